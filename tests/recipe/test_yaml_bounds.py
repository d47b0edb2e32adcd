"""YAML is bounded before it is composed: size, nesting depth and alias expansion, each refused with its line."""

from __future__ import annotations

import pytest

from dlkit.yaml_io import MAX_CHARS, MAX_DEPTH, MAX_NODES, YamlLimitError, parse


def test_what_a_recipe_needs_passes() -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # inside the top-level mapping
    assert parse(f"a: &x [1, 2]\nb: *x\nc: {nested}")["b"] == [1, 2]
    assert len(parse("[" + ", ".join(["1"] * (MAX_NODES - 1)) + "]")) == MAX_NODES - 1


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("a:\n  b: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than 64 levels", 2),
        ("a: &a [*a]", "alias *a refers to a node that contains it", 1),
        ("a: &a {k: [1, *a]}", "alias *a refers to a node that contains it", 1),
        ("a: &a [" + ",".join(["1"] * 1000) + "]\n" + "b: [" + ",".join(["*a"] * 200) + "]", "past 100,000 nodes", 2),
        ("x" * (MAX_CHARS + 1), "the limit is 1,048,576", None),
    ],
)
def test_over_a_bound_is_refused_with_its_line(text: str, problem: str, line: int | None) -> None:
    with pytest.raises(YamlLimitError) as info:
        parse(text)
    assert problem in info.value.problem
    mark = info.value.problem_mark
    assert (mark.line + 1 if mark is not None else None) == line
