"""Hyperparameter search with Optuna over a recipe's `tune` section."""
