"""Where the bundled recipes live, for an installed wheel and for a source checkout."""

from __future__ import annotations

from pathlib import Path

from dlkit.yaml_io import parse


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


def description(path: Path) -> str:
    """The first line of a recipe's top-level `description`, "" without one, "(unreadable)" if it cannot be read.

    A one-line plain value is read straight from its line (no YAML parser to import); anything
    else (quoted, folded, continued on the next line) goes through the YAML parser.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "(unreadable)"
    keyed = [i for i, line in enumerate(lines) if line.startswith("description:")]
    if len(keyed) == 1:
        value = lines[keyed[0]][len("description:") :].strip()
        following = lines[keyed[0] + 1] if keyed[0] + 1 < len(lines) else ""
        plain = (
            value
            and value[0] not in "|>'\"[{&*!%@`#?:-,"
            and not value.endswith(":")
            and " #" not in value
            and ": " not in value
            and "\t" not in value
            and not following[:1].isspace()
        )
        if plain:
            return value
    return _parsed_description(lines)


def _parsed_description(lines: list[str]) -> str:
    import yaml

    try:
        data = parse("\n".join(lines))
    except yaml.YAMLError:
        return "(unreadable)"
    if not isinstance(data, dict) or not data.get("description"):
        return ""
    text = str(data["description"]).strip()
    return text.splitlines()[0] if text else ""


def listing() -> str:
    """`dlkit recipes ls`: one line per bundled recipe, its name and the first line of its description."""
    recipes = bundled_recipes()
    width = max((len(n) for n in recipes), default=0)
    return "".join(f"{name:<{width}}  {description(path)}\n" for name, path in recipes.items())
