"""Reports and figures computed from a model's predictions."""
