"""One registry pattern for every pluggable piece: writers, exporters, renderers, readers, backends.

Each `--format` (or backend) is a `Registry`: names mapped to callables, registered with a
decorator or at construction, looked up with `get(name)`, which names the choices when the
name is unknown. Modules expose it as `get_<kind>(name)` (as whisper's `get_writer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_REQUIRED: Any = object()  # `get` without a default raises


class Registry(Generic[T]):
    """Named entries of one kind (`what` names the kind in messages, e.g. "format")."""

    def __init__(
        self,
        what: str,
        entries: Mapping[str, T] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
        error: Callable[[str], Exception] = ValueError,
    ) -> None:
        self.what = what
        self._entries: dict[str, T] = dict(entries or {})
        self.aliases = dict(aliases or {})
        self._error = error

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@WRITERS.register("csv")`."""

        def add(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return add

    def key(self, name: str) -> str:
        """The registered name `name` stands for (aliases resolved), as given when unknown."""
        return self.aliases.get(name, name)

    def get(self, name: str, default: Any = _REQUIRED) -> T:
        """The entry registered as `name` (or an alias of it); else the registry's error naming
        the choices (or `default`, when one is given, as a mapping's `get`)."""
        try:
            return self._entries[self.key(name)]
        except KeyError:
            if default is not _REQUIRED:
                return default
            raise self._error(
                f"unknown {self.what} {name!r} (choose from {', '.join(self._entries)})"
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __getitem__(self, name: str) -> T:
        return self._entries[self.key(name)]

    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):  # type: ignore[no-untyped-def]
        return self._entries.items()
