"""Keep Lightning's banners, tips and hints off the user's terminal."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_lightning() -> None:
    """Raise Lightning's and MLflow's loggers to WARNING and drop advisory warnings.

    Call it after importing them: both set their own log level on import.
    """
    # MLflow draws a progress bar for every artifact download
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in (
        "lightning",
        "lightning.pytorch",
        "lightning.fabric",
        "lightning_fabric",
        "pytorch_lightning",
        "mlflow",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        r".*does not have many workers.*",
        r".*is smaller than the logging interval.*",
        r".*Checkpoint directory .* exists and is not empty.*",
        r".*LeafSpec.*",
        r".*`isinstance\(treespec, LeafSpec\)`.*",
        r".*The number of training batches.*",
        r".*GPU available but not used.*",
        r".*could not determine.*batch_size.*",
        r".*Trying to infer the `batch_size`.*",
        r".*The `srun` command is available.*",
        r".*dataset source can be interpreted in multiple ways.*",
        r".*callbacks used to create the checkpoint need to be provided.*",  # the test-only Trainer after DDP
    ):
        warnings.filterwarnings("ignore", message=pattern)
