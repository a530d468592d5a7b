"""One dialogue's world: its db copy, no-book list, reservation tables and (optionally) its folder.

State lives in memory and every change is mirrored to the dialogue folder with the original file
names (`db/`, `reservation/<domain>_book_db.json`, `cancel.txt`, ...), so a folder can be
inspected, replayed and re-graded later. No subprocess, no chdir: an API call is a function call.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from multiwoz_env import apis, resources
from shared.files import read_json, write_bytes_atomic, write_json_atomic, write_text_atomic

NO_BOOK_SUFFIX = "_no_book_db.json"


class Sandbox:
    def __init__(
        self,
        db: dict[str, list[dict[str, Any]]],
        no_book: dict[str, list[dict[str, Any]]],
        reservation_tables: dict[str, list[dict[str, Any]]],
        domains: list[str],
        *,
        docs: list[dict[str, Any]] | None = None,
        rng: random.Random | None = None,
        folder: Path | None = None,
    ) -> None:
        self.db = db
        self.no_book = no_book
        self._tables = reservation_tables
        self.domains = domains
        self._docs = docs
        self.rng = rng or random.Random()
        self.folder = folder

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_folder(cls, folder: str | Path, *, with_reservations: bool = False, rng: random.Random | None = None) -> Sandbox:
        """The sandbox of a dialogue folder: its `db/` and `domains.json`.

        Reservations start empty (one table per domain, as the original creates them) unless
        `with_reservations`, which loads the folder's `reservation/` files (for grading). The
        returned sandbox does not write back into the folder.
        """
        folder = Path(folder)
        domains = list(read_json(folder / "domains.json"))
        db: dict[str, list[dict[str, Any]]] = {}
        no_book: dict[str, list[dict[str, Any]]] = {}
        for path in sorted((folder / "db").glob("*.json")):
            if path.name.endswith(NO_BOOK_SUFFIX):
                no_book[path.name[: -len(NO_BOOK_SUFFIX)]] = read_json(path)
            elif path.name.endswith("_db.json"):
                db[path.name[: -len("_db.json")]] = _read_db(path)
        if with_reservations:
            tables = {p.name[: -len("_book_db.json")]: read_json(p) for p in sorted((folder / "reservation").glob("*_book_db.json"))}
        else:
            tables = {d: [] for d in domains if d != "attraction"}
        docs_file = folder / "multiwoz_api_documentation.json"
        docs = read_json(docs_file) if docs_file.is_file() else None
        return cls(db, no_book, tables, domains, docs=docs, rng=rng)

    @classmethod
    def build(
        cls,
        folder: str | Path,
        goal_dict: dict[str, Any],
        domains: list[str],
        *,
        rng: random.Random,
        model_name: str | None = None,
    ) -> Sandbox:
        """Create a dialogue's sandbox in `folder` as the original `case_init` + `book_db_init` do.

        Only the goal's domains get a db; `fail_info` entities are removed; the goal's failing
        booking (`fail_book`) becomes `db/<domain>_no_book_db.json`; reservation tables start empty.
        """
        folder = Path(folder)
        mapped = ["accommodation" if d == "hotel" else d for d in domains]
        db: dict[str, list[dict[str, Any]]] = {}
        for domain in mapped:
            raw = resources.db_bytes(domain)
            (folder / "db").mkdir(parents=True, exist_ok=True)
            (folder / "db" / f"{domain}_db.json").write_bytes(raw)  # a byte copy, as shutil.copy
            db[domain] = list(resources.db(domain))
        write_json_atomic(folder / "domains.json", mapped)
        write_json_atomic(folder / "api_call_log.json", [])
        write_json_atomic(folder / "read_docs_log.json", [])
        write_json_atomic(folder / "goal_dict.json", goal_dict)

        no_book: dict[str, list[dict[str, Any]]] = {}
        goals = copy.deepcopy({d: goal_dict[d] for d in mapped if d != "taxi"})
        for domain, goal in goals.items():
            pristine = db[domain]
            for key in goal:
                if key == "fail_info" and goal["fail_info"]:
                    kept, encoded = _without_failing(domain, json.dumps(goal["fail_info"]))
                    db[domain] = list(kept)
                    write_bytes_atomic(folder / "db" / f"{domain}_db.json", encoded)
                if key == "fail_book" and goal["fail_book"]:
                    no_book[domain] = _no_book_list(domain, pristine, goal)
                    write_json_atomic(folder / "db" / f"{domain}{NO_BOOK_SUFFIX}", no_book[domain])

        tables: dict[str, list[dict[str, Any]]] = {d: [] for d in domains if d != "attraction"}  # the unmapped names, as the original
        for domain in tables:
            write_json_atomic(folder / "reservation" / f"{domain}_book_db.json", [])
        if model_name is not None:
            write_json_atomic(folder / "model_name.json", {"model_name": model_name})
        return cls(db, no_book, tables, mapped, rng=rng, folder=folder)

    # --- the API surface ----------------------------------------------------------------

    def call(self, api_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one API as `apis.<api_name>(**params)` ran in the original: raises where it raised."""
        function = apis.APIS[api_name]
        return function(self, **params)

    def reservations(self) -> dict[str, list[dict[str, Any]]]:
        return copy.deepcopy(self._tables)

    # --- used by the APIs ---------------------------------------------------------------

    @property
    def docs(self) -> list[dict[str, Any]]:
        if self._docs is None:
            self._docs = list(resources.api_docs())
        return self._docs

    def require_db(self, domain: str) -> list[dict[str, Any]]:
        if domain not in self.db:
            raise apis.no_such_file(f"db/{domain}_db.json")
        return self.db[domain]

    def has_reservation_table(self, domain: str) -> bool:
        return domain in self._tables

    def require_reservations(self, domain: str) -> list[dict[str, Any]]:
        if domain not in self._tables:
            raise apis.no_such_file(f"reservation/{domain}_book_db.json")
        return self._tables[domain]

    def reference_number(self) -> str:
        return "".join(self.rng.choices(apis.REFERENCE_ALPHABET, k=8))

    def add_reservation(self, domain: str, record: dict[str, Any]) -> None:
        self._tables[domain].append(record)
        self._save(domain)

    def remove_reservation(self, domain: str, index: int) -> None:
        del self._tables[domain][index]
        self._save(domain)
        if self.folder is not None:
            write_text_atomic(self.folder / "cancel.txt", json.dumps(domain))

    def _save(self, domain: str) -> None:
        if self.folder is not None:
            write_json_atomic(self.folder / "reservation" / f"{domain}_book_db.json", self._tables[domain])


_PARSED: dict[bytes, list[dict[str, Any]]] = {}


def _read_db(path: Path) -> list[dict[str, Any]]:
    """A folder's db file, parsed once per distinct content (most folders hold pristine copies).

    The parsed list is shared: APIs never mutate db entities (they return copies)."""
    raw = path.read_bytes()
    key = hashlib.sha1(raw).digest()
    parsed = _PARSED.get(key)
    if parsed is None:
        if len(_PARSED) > 64:
            _PARSED.clear()
        parsed = _PARSED[key] = json.loads(raw)
    return parsed


@lru_cache(maxsize=256)
def _without_failing(domain: str, fail_info: str) -> tuple[tuple[dict[str, Any], ...], bytes]:
    """The domain's db without the entities matching `fail_info` (JSON text, its order kept: a
    missing slot raises for the first one, as in the original), and that list as the original
    writes it. A scenario's trials and behaviours share it: encoding it with indent 4 (the pure-
    Python encoder) was most of a dialogue's setup time (`make bench`, latency suite)."""
    query = json.loads(fail_info)
    kept = tuple(e for e in resources.db(domain) if not _matches_all(e, query))
    return kept, json.dumps(list(kept), indent=4).encode("utf-8")


def _matches_all(entity: dict[str, Any], query: dict[str, Any]) -> bool:
    # A query slot missing from the entity raises KeyError, as the original's db_search does.
    return sum([entity[slot] == value for slot, value in query.items()]) == len(query)


def _no_book_list(domain: str, pristine: list[dict[str, Any]], goal: dict[str, Any]) -> list[dict[str, Any]]:
    """One refused booking per entity satisfying `info`: the goal's booking with fail_book's values."""
    failing = goal["book"]
    failing.update(goal["fail_book"])
    key = "train_schedule_id" if domain == "train" else None
    out = []
    for entity in pristine:
        if _matches_all(entity, goal["info"]):
            head = {key: entity[key]} if key else {"id": entity["id"], "name": entity["name"]}
            out.append(head | failing)
    return out
