"""Where the bundled recipes live, for an installed wheel and for a source checkout."""

from __future__ import annotations

from pathlib import Path


def recipes_dir() -> Path:
    """The folder of bundled recipes."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_recipes", package.parent / "recipes"):
        if candidate.is_dir():
            return candidate
    return package.parent / "recipes"


def bundled_recipes() -> dict[str, Path]:
    """Bundled recipe name -> path, sorted by name."""
    folder = recipes_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"), key=lambda p: p.stem)}
