"""The MLflow adapter: where runs go and what is recorded in them."""

from dlkit.tracking.store import DEFAULT_TRACKING_URI, resolve_tracking_uri

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri"]
