"""The v1 database of one episode, and the reward's hash of it.

v1 deep-copies the whole domain DB for every episode and hashes all of it at grading: sha256 of
`str(to_hashable(data))`, where dicts become tuples of (key, value) pairs sorted by key, lists
become tuples and sets sorted tuples. Here an episode's DB is a dict of `TableOverlay`s over one
pristine, parsed-once, never-written `PristineTable` per table: a record is copied into the
overlay the first time it is looked up (tools may change what they look up), so the overlay holds
only what the episode touched. The hash is the same string built from pieces: the repr of every
pristine (key, record) pair is computed once per process, and only records the overlay holds are
serialised again. "Holds" is the test, never `==` (1, 1.0 and True are equal in Python and differ in
the canonical string), so a record that was looked up and left as it was is re-serialised too.
"""

from __future__ import annotations

import hashlib
from collections.abc import ItemsView, Iterator, MutableMapping, ValuesView
from functools import cache
from typing import Any

from tau_env.resources import TABLES, check_domain, table_rows


def to_hashable(value: Any) -> Any:
    """v1's canonical form (kept as v1 wrote it: the reference the pieces are checked against)."""
    if isinstance(value, dict):
        return tuple((key, to_hashable(item)) for key, item in sorted(value.items()))
    if isinstance(value, list):
        return tuple(to_hashable(item) for item in value)
    if isinstance(value, set):
        return tuple(sorted(to_hashable(item) for item in value))
    return value


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than deepcopy."""
    if type(value) is dict:
        return {key: clone(item) for key, item in value.items()}
    if type(value) is list:
        return [clone(item) for item in value]
    return value


def piece(key: Any, record: Any) -> bytes:
    """One (key, record) pair as it appears inside the canonical string of its table."""
    return repr((key, to_hashable(record))).encode("utf-8")


def tuple_text(items: list[bytes]) -> bytes:
    """`str(tuple)` from the reprs of its items: `()`, `(a,)`, `(a, b)`."""
    if len(items) == 1:
        return b"(" + items[0] + b",)"
    return b"(" + b", ".join(items) + b")"


class PristineTable:
    """One table as the upstream file has it: parsed once per process, shared by every episode,
    and never written (every write goes to an overlay)."""

    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows
        self._pieces: dict[str, bytes] | None = None
        self._sorted: list[str] | None = None

    @property
    def pieces(self) -> dict[str, bytes]:
        if self._pieces is None:
            self._pieces = {key: piece(key, record) for key, record in self.rows.items()}
        return self._pieces

    @property
    def sorted_keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.rows)
        return self._sorted


class TableOverlay(MutableMapping[str, Any]):
    """A table of one episode: behaves as the dict v1's tools receive (lookups, writes, deletes,
    iteration in the dict's insertion order) while holding only the records the episode touched."""

    __slots__ = ("_base", "_own", "_hidden", "_added")

    def __init__(self, base: PristineTable) -> None:
        self._base = base
        self._own: dict[str, Any] = {}  # records copied on lookup, written, or added
        self._hidden: set[str] = set()  # pristine keys deleted in this episode
        self._added: list[str] = []  # keys not (or no longer) in the pristine table, insertion order

    def _visible(self, key: object) -> bool:
        return key in self._base.rows and key not in self._hidden

    def __getitem__(self, key: str) -> Any:
        own = self._own.get(key, _MISSING)
        if own is not _MISSING:
            return own
        if not self._visible(key):
            raise KeyError(key)
        record = self._own[key] = clone(self._base.rows[key])
        return record

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._own and not self._visible(key):
            self._added.append(key)  # a new key goes last, as in a dict (a deleted one too)
        self._own[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._added:
            self._added.remove(key)
            del self._own[key]
        elif self._visible(key):
            self._hidden.add(key)
            self._own.pop(key, None)
        else:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._own or self._visible(key)

    def __iter__(self) -> Iterator[str]:
        hidden = self._hidden
        yield from (key for key in self._base.rows if key not in hidden)
        yield from list(self._added)

    def __len__(self) -> int:
        return len(self._base.rows) - len(self._hidden) + len(self._added)

    def peek(self, key: str) -> Any:
        """A record for reading only: the episode's copy if it has one, else the pristine record
        itself (no copy). The caller must not change it."""
        own = self._own.get(key, _MISSING)
        return own if own is not _MISSING else self._base.rows[key]

    def values(self) -> ValuesView[Any]:
        """Scans read without copying (tools only search with them): see `peek`."""
        return _PeekValues(self)

    def items(self) -> ItemsView[str, Any]:
        return _PeekItems(self)

    def canonical(self) -> bytes:
        """`str(to_hashable(table))`, from the pristine pieces and the episode's own records."""
        base = self._base
        if not self._own and not self._hidden:
            keys = base.sorted_keys
        elif self._added:
            keys = sorted(self)
        else:
            keys = [key for key in base.sorted_keys if key not in self._hidden]
        pieces, own = base.pieces, self._own
        return tuple_text([piece(key, own[key]) if key in own else pieces[key] for key in keys])

    def to_dict(self) -> dict[str, Any]:
        """A plain dict with the same content and order (the records copied; the overlay unchanged)."""
        return {key: clone(self.peek(key)) for key in self}


class _PeekValues(ValuesView[Any]):
    def __init__(self, table: TableOverlay) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[Any]:
        return (self._table.peek(key) for key in self._table)


class _PeekItems(ItemsView[str, Any]):
    def __init__(self, table: TableOverlay) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return ((key, self._table.peek(key)) for key in self._table)


_MISSING = object()


@cache
def pristine(domain: str, table: str) -> PristineTable:
    return PristineTable(table_rows(domain, table))


def load_db(domain: str) -> dict[str, Any]:
    """A new episode DB of `airline` or `retail`: one overlay per table over the pristine data."""
    check_domain(domain)
    return {table: TableOverlay(pristine(domain, table)) for table in TABLES[domain]}


def materialize(db: dict[str, Any]) -> dict[str, Any]:
    """The episode DB as plain dicts (what v1 would hold): for exports and the reference hash."""
    return {name: table.to_dict() if isinstance(table, TableOverlay) else table for name, table in db.items()}


def reference_hash(db: dict[str, Any]) -> str:
    """v1's hash computed v1's way, over the whole DB (half a second): the check on `data_hash`."""
    return hashlib.sha256(str(to_hashable(materialize(db))).encode("utf-8")).hexdigest()


def data_hash(db: dict[str, Any]) -> str:
    """v1's DB hash. An episode DB is hashed from its pieces (milliseconds); any other dict v1's way."""
    if not all(isinstance(table, TableOverlay) for table in db.values()):
        return reference_hash(db)
    tables = [tuple_text([repr(name).encode("utf-8"), db[name].canonical()]) for name in sorted(db)]
    return hashlib.sha256(tuple_text(tables)).hexdigest()
