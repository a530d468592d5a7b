"""The episode DB (overlays over shared pristine tables) against what v1 holds (a plain deep copy):
the same mapping behaviour step by step, the same canonical string and hash, and the pristine
tables never written, whatever the tools do."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tau_env import call_tool
from tau_env.db import PristineTable, TableOverlay, clone, data_hash, load_db, materialize, pristine, reference_hash, to_hashable
from tau_env.resources import TABLES, table_rows

# Values where Python's `==` and the canonical string disagree (1 == 1.0 == True) and nested shapes.
SCALARS = st.one_of(st.sampled_from([0, 1, 1.0, True, False, None, 0.0, -0.0, "1", ""]), st.text(max_size=4), st.floats(allow_nan=False))
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8
)
KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, VALUES),
        st.tuples(st.just("del"), KEYS, st.none()),
        st.tuples(st.just("get"), KEYS, st.none()),
        st.tuples(st.just("mutate"), KEYS, VALUES),  # change a looked-up record in place
    ),
    max_size=25,
)


@given(base=st.dictionaries(KEYS, st.dictionaries(st.text(max_size=2), VALUES, max_size=3), max_size=5), ops=OPS)
def test_an_overlay_behaves_as_a_deep_copy_of_its_table(base: dict[str, Any], ops: list[tuple[str, str, Any]]) -> None:
    frozen = json.dumps(base)
    table = TableOverlay(PristineTable(base))
    plain = clone(base)
    for op, key, value in ops:
        if op == "set":
            table[key], plain[key] = clone(value), clone(value)
        elif op == "del":
            assert (key in table) == (key in plain)
            if key in plain:
                del table[key], plain[key]
        elif op == "get":
            assert table.get(key) == plain.get(key)
        elif key in plain and isinstance(plain[key], dict):
            table[key]["x"], plain[key]["x"] = clone(value), clone(value)
        assert list(table) == list(plain) and len(table) == len(plain)
        assert list(table.items()) == list(plain.items()) and list(table.values()) == list(plain.values())
        assert table.canonical().decode() == str(to_hashable(plain))
    assert table.to_dict() == plain and json.dumps(base) == frozen


def test_tables_of_one_and_no_record_have_v1s_canonical_text() -> None:
    for base in ({}, {"only": {"v": 1}}, {"k": [True, 1, 1.0]}):
        assert TableOverlay(PristineTable(base)).canonical().decode() == str(to_hashable(base))
    db = {"t": TableOverlay(PristineTable({"only": {"v": 1}}))}
    plain = {"t": {"only": {"v": 1}}}
    assert data_hash(db) == hashlib.sha256(str(to_hashable(plain)).encode()).hexdigest() == reference_hash(db)


def test_values_equal_in_python_but_not_in_the_string_give_different_hashes(data_home: Path) -> None:
    db = load_db("airline")
    record = db["users"][next(iter(db["users"]))]
    hashes = []
    for value in (1, 1.0, True):
        record["probe"] = value
        hashes.append(data_hash(db))
        assert hashes[-1] == reference_hash(db)
    assert len(set(hashes)) == 3


def test_every_tool_run_leaves_the_pristine_tables_as_the_files_have_them(golden: Path, data_home: Path) -> None:
    recorded = json.loads((golden / "tau_v1_tools.json").read_text())
    for domain in ("airline", "retail"):
        for sequence in recorded["probes"][domain]:
            db = load_db(domain)
            for call in sequence["calls"]:
                if "exception" not in call:
                    call_tool(domain, db, call["name"], call["kwargs"])
        for number, task in enumerate(t for t in recorded["tasks"] if t["domain"] == domain):
            db = load_db(domain)
            for call in task["actions"]:
                call_tool(domain, db, call["name"], call["kwargs"])
            assert data_hash(db) == task["gt_data_hash"]
            if number % 10 == 0:  # v1's whole-DB way too, on a sample (a quarter second each)
                assert reference_hash(db) == task["gt_data_hash"]
        for table in TABLES[domain]:
            assert pristine(domain, table).rows == table_rows(domain, table)
        assert data_hash(load_db(domain)) == recorded["meta"]["base_data_hash"][domain]


def test_an_episode_holds_only_what_it_touched(data_home: Path) -> None:
    db = load_db("retail")
    call_tool("retail", db, "find_user_id_by_email", {"email": "nobody@example.com"})  # scans every user
    assert all(len(table._own) == 0 for table in db.values())
    order = next(iter(db["orders"]))
    call_tool("retail", db, "get_order_details", {"order_id": order})
    assert [len(table._own) for table in db.values()] == [1, 0, 0]
    assert materialize(db)["orders"][order] == table_rows("retail", "orders")[order]
