"""The data step: manifests, mirror copy, HTTP download, verification and failure modes."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared import data as d
from shared.errors import DataError
from shared.paths import data_path

NCUSIM = [sys.executable, "-m", "shared.cli"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1 serving a folder laid out like raw.githubusercontent.com/<repo>/<commit>/."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_manifests_cover_what_the_environments_need() -> None:
    mw = d.load_manifest("multiwoz")
    tau = d.load_manifest("tau")
    assert mw.commit == tau.commit == d.UPSTREAM_COMMIT
    paths = [e.path for e in mw.files]
    assert len(paths) == len(set(paths))
    count = lambda prefix: sum(p.startswith(prefix) for p in paths)  # noqa: E731
    assert count("multiwoz_env/goal_list/split_idx_list_test/") == 40
    assert count("multiwoz_env/goal_list/split_idx_list_train/") == 40
    assert count("multiwoz_env/goal_list/multiwoz_test_goal_list/") == 89
    assert count("multiwoz_env/goal_list/train_goal_list/") == 883
    assert count("multiwoz_env/persona/persona_list_") == 1000
    assert sum(p.endswith(".yaml") for p in paths) == 5
    assert "multiwoz_env/api_documentations/multiwoz_api_documentation.json" in paths
    assert "multiwoz_env/short_fragment_dumping.json" in paths
    for domain in ("accommodation", "restaurant", "train", "attraction", "taxi"):
        assert f"multiwoz_env/db/{domain}_db.json" in paths
    tau_paths = [e.path for e in tau.files]
    assert sum(p.startswith("tau_env/goal_list/tau_goal_list/") for p in tau_paths) == 165
    for domain in ("airline", "retail"):
        for name in ("tasks_test.py", "wiki.md"):
            assert f"tau_env/tau_bench/envs/{domain}/{name}" in tau_paths
        assert f"tau_env/{domain}_api_documentation_list.json" in tau_paths
        assert f"tau_env/testset_{domain}_idx.json" in tau_paths
    assert sum("/data/" in p and p.startswith("tau_env/tau_bench") for p in tau_paths) == 6
    # Personas and fragments are named at the MultiWOZ path in both manifests: one copy on disk.
    assert not any(p.startswith("tau_env/persona") for p in tau_paths)
    assert sum(p.startswith("multiwoz_env/persona/") for p in tau_paths) == 1000
    reference_folders = {"/".join(e.path.split("/")[2:4]) for e in mw.reference}
    assert len(reference_folders) == 80
    assert all(len(e.sha256) == 64 and e.size > 0 for e in mw.files + tau.files + mw.reference)


def test_mirror_fetch_verifies_everything_then_skips(kit_home: Path, mirror: Path) -> None:
    entries = d.entries_for(["multiwoz", "tau"])
    first = d.fetch(entries, d.MirrorSource(mirror))
    assert (first.fetched, first.already_verified, first.total) == (len(entries), 0, len(entries))
    assert all(d.is_verified(e) for e in entries)
    assert data_path("multiwoz_env/persona/persona_list_0.json") == kit_home / "multiwoz_env/data/persona/persona_list_0.json"
    assert not (kit_home / "tau_env/data/persona").exists()
    second = d.fetch(entries, d.MirrorSource(mirror))
    assert (second.fetched, second.already_verified) == (0, len(entries))
    d.require("multiwoz")
    d.require("tau")


def test_cli_data_through_mirror_and_second_run_skips(kit_home: Path, mirror: Path) -> None:
    env = {"NCUSIM_HOME": str(kit_home), "NCUSIM_DATA_MIRROR": str(mirror), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([*NCUSIM, "data", "--env", "tau"], env=env, capture_output=True, text=True, check=True)
    tau_files = len(d.load_manifest("tau").files)
    assert f"{tau_files} files verified: {tau_files} fetched" in first.stdout
    second = subprocess.run([*NCUSIM, "data", "--env", "tau"], env=env, capture_output=True, text=True, check=True)
    assert f"{tau_files} files verified: 0 fetched (0.0 MB), {tau_files} already present" in second.stdout


def test_cli_reference_folders(kit_home: Path, mirror: Path) -> None:
    env = {"NCUSIM_HOME": str(kit_home), "NCUSIM_DATA_MIRROR": str(mirror), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([*NCUSIM, "data", "--reference"], env=env, capture_output=True, text=True, check=True)
    total = len(d.load_manifest("multiwoz").reference)
    assert f"{total} files verified: {total} fetched" in out.stdout
    folder = kit_home / "multiwoz_env/data/train_datasets/multiwoz_train_dataset/MUL0001.json_0"
    assert json.loads((folder / "grading_result.json").read_text())


def test_http_download_of_the_mirror(kit_home: Path, mirror: Path, http_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, url = http_root
    monkeypatch.delenv("NCUSIM_DATA_MIRROR")
    (root / "NCUser").symlink_to(mirror / "NCUser")
    env = {"NCUSIM_HOME": str(kit_home), "NCUSIM_DATA_URL": url + "NCUser/", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([*NCUSIM, "data", "--env", "tau"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tau_files = len(d.load_manifest("tau").files)
    assert f"{tau_files} files verified: {tau_files} fetched" in out.stdout
    assert f"(source: {url}NCUser/)" in out.stdout
    entries = d.entries_for(["tau"])
    assert all(d.is_verified(e) for e in entries)


def _stage(root: Path, mirror: Path, entries: list[d.FileEntry]) -> None:
    for entry in entries:
        target = root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mirror / "NCUser" / entry.path, target)


def test_corrupted_download_leaves_good_files_untouched(kit_home: Path, mirror: Path, http_root: tuple[Path, str]) -> None:
    root, url = http_root
    entries = [e for e in d.load_manifest("tau").files if e.path.startswith("tau_env/goal_list/")][:6]
    _stage(root, mirror, entries)
    corrupt, good = entries[0], entries[2]
    (root / corrupt.path).write_bytes((root / corrupt.path).read_bytes() + b" ")
    # A stale local copy (not the manifest's bytes) of the corrupt file, and a verified copy of another.
    corrupt.local.parent.mkdir(parents=True, exist_ok=True)
    corrupt.local.write_bytes(b"older version")
    shutil.copyfile(mirror / "NCUser" / good.path, good.local)
    good_mtime = good.local.stat().st_mtime_ns
    source = d.HttpSource(url)
    with pytest.raises(DataError) as info:
        d.fetch(entries, source)
    message = str(info.value)
    assert "checksum mismatch for " + corrupt.path in message
    assert "\n" not in message
    assert corrupt.local.read_bytes() == b"older version"
    assert good.local.stat().st_mtime_ns == good_mtime
    assert all(d.is_verified(e) for e in entries if e is not corrupt)
    assert not list(corrupt.local.parent.glob(".*.tmp"))


def test_missing_file_and_no_network(kit_home: Path, mirror: Path, http_root: tuple[Path, str]) -> None:
    root, url = http_root
    entries = [e for e in d.load_manifest("tau").files if e.path.endswith("_idx.json")]
    with pytest.raises(DataError, match="not found \\(HTTP 404"):
        d.fetch(entries, d.HttpSource(url))
    from tests.support.openai_server import free_port

    closed = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(DataError, match="no network\\? set NCUSIM_DATA_MIRROR"):
        d.fetch(entries, d.HttpSource(closed))
    assert not any(e.local.exists() for e in entries)


def test_cli_errors_are_one_line(kit_home: Path, tmp_path: Path) -> None:
    env = {"NCUSIM_HOME": str(kit_home), "NCUSIM_DATA_MIRROR": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([*NCUSIM, "data"], env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("ncusim: error: NCUSIM_DATA_MIRROR=")
    assert "Traceback" not in out.stderr


def test_require_names_the_fix(kit_home: Path) -> None:
    with pytest.raises(DataError, match="run `make data`"):
        d.require("multiwoz")


def test_sha256_of_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"abc" * 1000)
    assert d.sha256_of(f) == hashlib.sha256(b"abc" * 1000).hexdigest()
