"""Upstream data: committed manifests, parallel verified download, and a local mirror.

Every file the environments read comes from holi-lab/NCUser at one pinned commit and is named
in `<env>_env/data_manifest.json` with its SHA-256. `fetch()` brings missing or changed files
from raw GitHub (or from `NCUSIM_DATA_MIRROR=<dir>`, which holds `<dir>/NCUser/<repo path>`),
verifies each one before it replaces anything, and writes it atomically, so a bad download
never damages a file that was good before.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx

from shared import environment
from shared.errors import ConfigError, DataError
from shared.files import write_bytes_atomic
from shared.paths import data_path

UPSTREAM_REPO = "holi-lab/NCUser"
UPSTREAM_COMMIT = "7e24bba1e5cce16c58b9d723be8788022c7b712d"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/"


@dataclass(frozen=True)
class FileEntry:
    path: str  # repo path upstream, e.g. multiwoz_env/db/train_db.json
    sha256: str
    size: int

    @property
    def local(self) -> Path:
        return data_path(self.path)


@dataclass(frozen=True)
class Manifest:
    env: str
    commit: str
    files: tuple[FileEntry, ...]
    reference: tuple[FileEntry, ...] = ()


def environments() -> list[str]:
    """The environments with upstream data (a manifest in their package)."""
    return list(environment.with_upstream_data())


def load_manifest(env: str) -> Manifest:
    packages = environment.with_upstream_data()
    if env not in packages:
        raise ConfigError(f"unknown environment {env!r}: choose one of {', '.join(packages)}")
    raw = json.loads(resources.files(packages[env]).joinpath("data_manifest.json").read_text())

    def entries(key: str) -> tuple[FileEntry, ...]:
        return tuple(FileEntry(e["path"], e["sha256"], int(e["size"])) for e in raw.get(key, []))

    return Manifest(env, raw["upstream"]["commit"], entries("files"), entries("reference"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_verified(entry: FileEntry) -> bool:
    local = entry.local
    try:
        if local.stat().st_size != entry.size:
            return False
    except OSError:
        return False
    return sha256_of(local) == entry.sha256


class FetchFailure(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind  # "missing", "network", "http", "checksum"
        self.detail = detail


class Source:
    """Where upstream bytes come from."""

    description: str

    def read(self, repo_path: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass


class MirrorSource(Source):
    def __init__(self, mirror: Path) -> None:
        root = mirror / "NCUser"
        if not root.is_dir():
            raise DataError(f"NCUSIM_DATA_MIRROR={mirror} has no NCUser/ folder: point it at the folder holding NCUser/<repo path>")
        self.root = root
        self.description = f"mirror {mirror}"

    def read(self, repo_path: str) -> bytes:
        try:
            return (self.root / repo_path).read_bytes()
        except FileNotFoundError:
            raise FetchFailure("missing", f"{repo_path} is not in the {self.description}") from None


class HttpSource(Source):
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.description = self.base_url
        self.client = httpx.Client(timeout=httpx.Timeout(60.0, connect=15.0), follow_redirects=True)

    def read(self, repo_path: str) -> bytes:
        url = self.base_url + repo_path
        last: Exception | None = None
        for attempt in range(3):
            if attempt:
                time.sleep(0.5 * attempt)
            try:
                response = self.client.get(url)
            except httpx.TransportError as exc:  # DNS, refused, reset, timeout
                last = exc
                continue
            if response.status_code == 404:
                raise FetchFailure("missing", f"{repo_path} not found (HTTP 404 at {url})")
            if response.status_code >= 500 or response.status_code == 429:
                last = httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=response)
                continue
            if response.status_code != 200:
                raise FetchFailure("http", f"{repo_path}: HTTP {response.status_code} from {url}")
            return response.content
        raise FetchFailure("network", f"cannot download {url}: {type(last).__name__}: {last}")

    def close(self) -> None:
        self.client.close()


def make_source(mirror: str | os.PathLike[str] | None = None, base_url: str | None = None) -> Source:
    """Mirror if given (argument, then NCUSIM_DATA_MIRROR), else HTTP (argument, NCUSIM_DATA_URL, GitHub)."""
    mirror = mirror or os.environ.get("NCUSIM_DATA_MIRROR") or None
    if mirror:
        return MirrorSource(Path(mirror))
    return HttpSource(base_url or os.environ.get("NCUSIM_DATA_URL") or DEFAULT_BASE_URL)


@dataclass
class FetchReport:
    total: int = 0
    already_verified: int = 0
    fetched: int = 0
    bytes_fetched: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, FetchFailure]] = field(default_factory=list)
    skipped: int = 0  # not tried: the source was unreachable

    def summary(self) -> str:
        return (
            f"{self.total} files verified: {self.fetched} fetched ({self.bytes_fetched / 1e6:.1f} MB), "
            f"{self.already_verified} already present, in {self.seconds:.1f}s"
        )


def _fetch_one(entry: FileEntry, source: Source) -> int:
    data = source.read(entry.path)
    got = hashlib.sha256(data).hexdigest()
    if got != entry.sha256:
        raise FetchFailure(
            "checksum",
            f"checksum mismatch for {entry.path} from {source.description} "
            f"(expected {entry.sha256[:12]}…, got {got[:12]}…); the source is corrupt or not at commit {UPSTREAM_COMMIT[:7]}",
        )
    write_bytes_atomic(entry.local, data)
    return len(data)


def _failure_line(failures: list[tuple[str, FetchFailure]], total: int, skipped: int = 0) -> str:
    """`skipped`: files not tried once the source was found unreachable (they count as not downloaded)."""
    network = [f for _, f in failures if f.kind == "network"]
    if network and len(network) == len(failures):
        return (
            f"could not download {len(network) + skipped} of {total} data files ({network[0].detail}); "
            "no network? set NCUSIM_DATA_MIRROR=<dir> to copy from a local mirror"
        )
    first = failures[0][1].detail
    more = f" (and {len(failures) - 1 + skipped} more failed files)" if len(failures) + skipped > 1 else ""
    return f"{first}{more}; files verified before were left untouched"


def unique(entries: Iterable[FileEntry]) -> list[FileEntry]:
    seen: dict[str, FileEntry] = {}
    for entry in entries:
        seen.setdefault(entry.path, entry)
    return list(seen.values())


def fetch(
    entries: Iterable[FileEntry],
    source: Source,
    workers: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> FetchReport:
    """Verify every entry locally and fetch the missing or changed ones; raise DataError on any failure."""
    todo_all = unique(entries)
    report = FetchReport(total=len(todo_all))
    start = time.monotonic()
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verified = list(pool.map(is_verified, todo_all))
        todo = [e for e, ok in zip(todo_all, verified, strict=True) if not ok]
        report.already_verified = len(todo_all) - len(todo)
        done = report.already_verified
        if on_progress:
            on_progress(done, report.total)
        futures = {pool.submit(_fetch_one, entry, source): entry for entry in todo}
        for future in as_completed(futures):
            entry = futures[future]
            try:
                report.bytes_fetched += future.result()
                report.fetched += 1
            except CancelledError:
                report.skipped += 1
            except FetchFailure as failure:
                report.failures.append((entry.path, failure))
                if failure.kind == "network":
                    # The source cannot be reached: every other file would fail the same way, each
                    # after its retries (minutes for a full fetch); the ones not started are dropped.
                    for other in futures:
                        other.cancel()
            except OSError as exc:
                report.failures.append((entry.path, FetchFailure("io", f"cannot write {entry.local}: {exc.strerror}")))
            done += 1
            if on_progress:
                on_progress(done, report.total)
    report.seconds = time.monotonic() - start
    if report.failures:
        report.failures.sort(key=lambda item: item[0])
        raise DataError(_failure_line(report.failures, report.total, report.skipped))
    return report


def entries_for(envs: Iterable[str], reference: bool = False) -> list[FileEntry]:
    out: list[FileEntry] = []
    for env in envs:
        manifest = load_manifest(env)
        out += manifest.reference if reference else manifest.files
    return unique(out)


def missing(envs: Iterable[str]) -> list[FileEntry]:
    """Entries whose local copy is absent (cheap existence check; `fetch` does the full verification)."""
    return [e for e in entries_for(envs) if not e.local.is_file()]


def require(env: str, verify: bool = False) -> None:
    """Raise a one-line DataError when the environment's data has not been fetched yet or a file is
    not the manifest's: its size is checked always (one stat per file), its SHA-256 with `verify`
    (`ncusim simulate` does, about a second for either environment). An environment that brings its
    own data (no manifest) has nothing to check."""
    if env not in environment.with_upstream_data():
        return
    entries = entries_for([env])
    absent = [e for e in entries if not e.local.is_file()]
    if absent:
        raise DataError(
            f"{len(absent)} {env} data files are missing (first: {absent[0].path}): run `make data` or `ncusim data --env {env}`"
        )
    changed = [e for e in entries if e.local.stat().st_size != e.size]
    if verify and not changed:
        with ThreadPoolExecutor(max_workers=4) as pool:
            changed = [e for e, ok in zip(entries, pool.map(is_verified, entries), strict=True) if not ok]
    if changed:
        raise DataError(
            f"{len(changed)} {env} data file(s) differ from the manifest (first: {changed[0].path}, a changed or damaged copy): "
            f"run `make data` or `ncusim data --env {env}` to fetch them again"
        )


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A progress bar on a terminal; silent otherwise (the caller prints a summary line)."""
    if not sys.stderr.isatty():
        return lambda done, total: None
    state = {"last": -1.0}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - state["last"] < 0.1:
            return
        state["last"] = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
