"""Hangs fail instead of blocking: every process a test starts is waited for with a timeout, and
pytest-timeout (pyproject.toml) bounds every test besides."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
RUNNERS = {"run", "call", "check_call", "check_output"}
WAITS = {"wait", "communicate"}


def _unbounded_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        keywords = {k.arg for k in node.keywords}
        if name in RUNNERS and isinstance(owner, ast.Name) and owner.id == "subprocess" and "timeout" not in keywords:
            found.append((node.lineno, f"subprocess.{name} without timeout="))
        elif name in WAITS and not node.args and "timeout" not in keywords:
            # threading.Event.wait and Popen.wait alike: a bare wait can block the suite forever
            found.append((node.lineno, f".{name}() without a timeout"))
    return found


def test_every_process_a_test_starts_is_awaited_with_a_timeout() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: {what}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, what in _unbounded_calls(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not offenders, "\n".join(offenders)


def test_pytest_timeout_guards_the_rest() -> None:
    import tomllib

    options = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 600
