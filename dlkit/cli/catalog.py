"""The command catalogue: the one-line summaries `dlkit --help` and `dlkit recipes --help` show."""

from __future__ import annotations

ROOT_HELP = "Deep-learning experiments from one YAML recipe: train, tune and evaluate, tracked in MLflow."
DEBUG_HELP = "Show full tracebacks on errors."
VERSION_HELP = "Print the version and exit."

RECIPES_HELP = "List, show, validate and copy recipes."
RUNS_HELP = "Runs in the MLflow store."

# Command name -> the line `dlkit --help` shows for it (the full help is the command's docstring).
COMMANDS: dict[str, str] = {
    "train": "Fit a recipe, test its best checkpoint, record the run in MLflow.",
    "init": "Write the recipe dlkit infers from a data file or image folder, commented, for editing.",
    "tune": "Search a recipe's hyperparameters with Optuna, tracked in MLflow.",
    "studies": "List the studies in an Optuna storage.",
    "evaluate": "Score a trained run on held-out or new data.",
    "predict": "Predict new data with a trained run.",
    "export": "Write a trained run as an ONNX or TorchScript graph, checked against PyTorch.",
    "explain": "Attributions of a trained run: images, table features, tokens.",
    "models": "List the architectures for model.arch, with their parameters.",
    "compare": "Runs side by side: differing parameters and metrics.",
    "report": "Write an HTML report comparing runs, folds or a study.",
    "ui": "Start the MLflow UI and print its address.",
    "recipes": RECIPES_HELP,
    "runs": RUNS_HELP,
}

RECIPES_COMMANDS: dict[str, str] = {
    "ls": "List the bundled recipes, one line each.",
    "show": "Print the resolved recipe: overrides applied, defaults filled in.",
    "validate": "Check recipes against the schema.",
    "cp": "Copy a bundled recipe to start your own experiment from it.",
}
