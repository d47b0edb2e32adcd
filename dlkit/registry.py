"""Name -> (parameter schema, builder) registries that refuse duplicates.

The parameter schemas are pydantic models without torch; the builder is a
`"module:function"` path imported only when something is built, so listing a
registry or validating a recipe never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dlkit.errors import UnknownName

P = TypeVar("P", bound=type)


@dataclass(frozen=True)
class Entry:
    """One registered name: its parameter schema and where its builder lives."""

    name: str
    params: type
    target: str
    summary: str

    def load(self) -> Callable[..., Any]:
        """Import and return the builder function."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]

    def part(self, name: str) -> Callable[..., Any] | None:
        """Another function of the builder's module by name (a data kind's readers of new data), or None."""
        module, _, _ = self.target.partition(":")
        found = getattr(importlib.import_module(module), name, None)
        return found if callable(found) else None


class Registry(Generic[P]):
    """A named collection of entries; registering a name twice is an error."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, *, target: str, summary: str = "") -> Callable[[P], P]:
        """Class decorator: register a parameter schema under `name`."""

        def decorate(params: P) -> P:
            if name in self._entries:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            doc = summary or (params.__doc__ or "").strip().splitlines()[0]
            self._entries[name] = Entry(name, params, target, doc)
            return params

        return decorate

    def get(self, name: str) -> Entry:
        """The entry for `name`, or UnknownName listing what exists."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self.what, name, self._entries) from None

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
