"""`dlkit predict RUN --input FILE --output FILE.csv`: predictions of a finished run for new data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlkit.process import heavy_importing

RUN_HELP = "An MLflow run id of a dlkit training run, or a dlkit checkpoint file."
TRACKING_HELP = "MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."


def predict(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the predictions (CSV).")],
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="New data in the format the run trained on: a CSV/TSV table or text file (the target column "
            "may be absent), a series, an image or a folder of images, a .npy/.npz array; for a recommender, "
            "rows of user and item (scored) or of users alone (their top items).",
        ),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", help="Recommendation: a user whose top items to list (repeatable)."),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option("--top", "-k", min=1, max=100_000, help="Recommendation: items per user (default: task.k)."),
    ] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help=TRACKING_HELP)] = None,
) -> None:
    """Predict new data through the run's fitted preprocessing and best checkpoint.

    Columns: row (or path, or last_input_time for series), then for classification prediction,
    probability and prob_<class>; regression prediction; forecasting <target>_t+<h>; autoencoders
    anomaly_score; recommendation predicted_rating and score per (user, item), or with --user / --top
    the user, rank, item, score and predicted_rating of each user's best unseen items.
    """
    from dlkit.atomic import check_writable
    from dlkit.errors import BadInput

    if input is None and not user:
        raise BadInput("--input: give the new data (or, for a recommendation run, --user)")
    if input is not None and user:
        raise BadInput("--user: give either --input or --user, not both")
    check_writable(output, "--output")
    with heavy_importing():
        from dlkit.serving.predict import predict as run_prediction

    rows = run_prediction(run, input, output, tracking_uri, say=typer.echo, users=user, top=top)
    typer.echo(f"{rows} predictions written to {output}")
