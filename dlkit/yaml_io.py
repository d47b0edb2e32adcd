"""YAML parsing with the C loader where available; always a safe loader."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: a recipe is a few hundred nodes; these bounds leave room for long search spaces and lists
#: while refusing what would exhaust memory (an alias bomb) or the C stack (deep nesting)
MAX_CHARS = 1 << 20
MAX_DEPTH = 64
MAX_NODES = 100_000

_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class YamlLimitError(yaml.YAMLError):
    """YAML refused for its size, depth or alias expansion, not its syntax; `problem_mark` has the line."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def check_bounds(text: str) -> None:
    """Raise YamlLimitError unless `text` is small, shallow and expands to a bounded number of nodes.

    Runs over the parser's event stream, which neither recurses nor expands aliases, so that
    a billion-laughs document or 50,000 nested brackets is refused before the composer (which
    recurses in C) or the constructor (which expands every alias) sees it.
    """
    if len(text) > MAX_CHARS:
        raise YamlLimitError(f"{len(text):,} characters of YAML; the limit is {MAX_CHARS:,}")
    sizes: dict[str, int] = {}  # anchor -> how many nodes it expands to
    stack: list[list[Any]] = []  # one [anchor, nodes so far] per open collection
    total = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        added = 0
        if isinstance(event, _OPEN):
            if len(stack) >= MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            stack.append([event.anchor, 1])
            total += 1
            continue
        if isinstance(event, _CLOSE):
            anchor, added = stack.pop()
            if anchor is not None:
                sizes[anchor] = added
            total -= added  # counted again below, in the parent
        elif isinstance(event, yaml.ScalarEvent):
            added = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                raise YamlLimitError(f"alias *{event.anchor} refers to a node that contains it", event.start_mark)
            added = sizes.get(event.anchor or "", 1)  # an undefined alias: the composer names it
        else:
            continue
        total += added
        if stack:
            stack[-1][1] += added
        if total > MAX_NODES:
            raise YamlLimitError(f"aliases expand the YAML past {MAX_NODES:,} nodes", event.start_mark)


def parse(text: str) -> Any:
    """Plain data from YAML text (safe: no object construction; bounded, see `check_bounds`)."""
    check_bounds(text)
    return yaml.load(text, Loader=SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The node tree of YAML text, with line marks (bounded, see `check_bounds`)."""
    check_bounds(text)
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
