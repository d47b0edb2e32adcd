"""YAML parsing with the C loader where available; always a safe loader."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> Any:
    """Plain data from YAML text (safe: no object construction)."""
    return yaml.load(text, Loader=SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The node tree of YAML text, with line marks."""
    return yaml.compose(text, Loader=SafeLoader)


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=True, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def commented(data: dict[str, Any], comments: dict[tuple[str, ...], str], header: list[str]) -> str:
    """YAML text of plain nested data, block style by section, with `# comment` after the keys in `comments`.

    Mappings nest as blocks, except the entries of a tune space (each reads best on one line);
    lists and scalars are written in flow style. A note that would make a line too long goes on
    the line above its key.
    """
    lines = [f"# {line}" if line else "#" for line in header]

    def emit(node: dict[str, Any], path: tuple[str, ...], depth: int) -> None:
        for key, value in node.items():
            keys = (*path, str(key))
            note = f"  # {comments[keys]}" if keys in comments else ""
            pad = "  " * depth
            if (isinstance(value, dict) and value and keys[:2] != ("tune", "space")) or keys == ("tune", "space"):
                lines.append(f"{pad}{key}:{note}")
                emit(value, keys, depth + 1)
            elif note and len(pad) + len(key) + len(_flow(value)) + len(note) > 110:  # a long list: the note above it
                lines.append(f"{pad}#{note[3:]}")
                lines.append(f"{pad}{key}: {_flow(value)}")
            else:
                lines.append(f"{pad}{key}: {_flow(value)}{note}")

    emit(data, (), 0)
    return "\n".join(lines) + "\n"
