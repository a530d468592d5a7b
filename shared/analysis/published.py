"""The paper's published dialogues (`make fetch-results`): two zip archives in the authors' Google
Drive folder, unpacked to `results/published/<env>/experiment_result/`.

`NCUSIM_RESULTS_MIRROR=<dir>` takes `experiment_result_<env>.zip` from a local folder instead
(air-gapped machines, tests). An archive is checked before anything is unpacked: every member's
CRC, no absolute or `..` paths, no links, and an `experiment_result/` tree holding dialogue folders
of that environment. It is unpacked into a staging folder next to the target and moved into place
only when complete, so a failure leaves what was there before. `SOURCE.json` records where it
came from and its SHA-256 (the authors publish no checksums; compare it across machines).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shared import environment
from shared.data import sha256_of
from shared.errors import DataError
from shared.files import write_text_atomic
from shared.paths import results_dir
from shared.scoring import dialogue_folders

DRIVE_FOLDER_ID = "1_UQZlT3fjg38gLqhzxQCMY-AQdWDQtC9"
DRIVE_FOLDER_URL = f"https://drive.google.com/drive/folders/{DRIVE_FOLDER_ID}"
# Bounds checked before unpacking. The published dialogues are JSON and text (deflate: 5-15x);
# the limits sit far above them and far below what would fill a disk.
MAX_MEMBERS = 2_000_000
MAX_UNPACKED = 64 * 2**30
MAX_RATIO = 100  # whole archive
MAX_MEMBER_RATIO = 1_000  # one member
RATIO_FLOOR = 16 * 2**20  # below this, ratios are not looked at (tiny files compress oddly)
DISK_MARGIN = 256 * 2**20  # left free after unpacking
TREE = "experiment_result"


def published_root(env: str) -> Path:
    """`results/published/<env>`; the experiment tree is its `experiment_result/`."""
    return results_dir() / "published" / env


@dataclass
class FetchReport:
    env: str
    target: Path
    status: str  # "fetched" | "present"
    dialogues: int
    sha256: str
    source: str

    def line(self) -> str:
        where = self.target / TREE
        return f"{self.env}: {self.status}, {self.dialogues} dialogue folders in {where} (sha256 {self.sha256[:12]}, from {self.source})"


def archive_of(env: str) -> str:
    """The published archive's file name, as the environment declares it."""
    archive = environment.published().get(env)
    if archive is None:
        raise DataError(f"no published results for {env!r}: choose {', '.join(environment.published())}")
    return archive


def _from_mirror(env: str, staging: Path) -> tuple[Path, str]:
    mirror = Path(os.environ["NCUSIM_RESULTS_MIRROR"])
    archive = mirror / archive_of(env)
    if not archive.is_file():
        raise DataError(f"NCUSIM_RESULTS_MIRROR={mirror} has no {archive_of(env)}")
    copy = staging / archive_of(env)
    shutil.copyfile(archive, copy)
    return copy, f"mirror {mirror}"


def _from_drive(env: str, staging: Path) -> tuple[Path, str]:
    import gdown  # imported here: only this path needs it

    hint = f"download {archive_of(env)} by hand from {DRIVE_FOLDER_URL} into a folder and set NCUSIM_RESULTS_MIRROR=<that folder>"
    try:
        listing = gdown.download_folder(id=DRIVE_FOLDER_ID, output=str(staging), quiet=True, use_cookies=False, skip_download=True)
    except Exception as exc:  # noqa: BLE001 - gdown raises many kinds; all mean "not reachable"
        raise DataError(f"cannot list the published results on Google Drive ({type(exc).__name__}): {hint}") from None
    # skip_download=True lists file records (never the local paths, which are strings)
    wanted = [item for item in listing or [] if not isinstance(item, str) and Path(item.path).name == archive_of(env)]
    if not wanted:
        raise DataError(f"{archive_of(env)} is not in the Drive folder {DRIVE_FOLDER_URL}: {hint}")
    target = staging / archive_of(env)
    try:
        got = gdown.download(id=wanted[0].id, output=str(target), quiet=False, use_cookies=False)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"downloading {archive_of(env)} failed ({type(exc).__name__}): {hint}") from None
    if not got or not target.is_file():
        raise DataError(f"downloading {archive_of(env)} failed: {hint}")
    return target, f"Google Drive {DRIVE_FOLDER_URL}"


def check_archive(archive: Path, unpack_into: Path | None = None) -> list[zipfile.ZipInfo]:
    """Sizes within bounds (and room to unpack under `unpack_into`), safe relative names, no links,
    then every member's CRC; returns the members. Sizes are checked from the central directory
    before a byte is inflated: zipfile never extracts more than a member's declared size, and a
    member whose data disagrees with it fails its CRC."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            check_sizes(archive, members, unpack_into)
            bad = zipped.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{archive.name} is not a readable zip archive ({exc})") from None
    if bad is not None:
        raise DataError(f"{archive.name} is corrupt: {bad} fails its CRC check")
    for member in members:
        name = PurePosixPath(member.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
            raise DataError(f"{archive.name} holds an unsafe path {member.filename!r}; not unpacking it")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise DataError(f"{archive.name} holds a link {member.filename!r}; not unpacking it")
    return members


def check_sizes(archive: Path, members: list[zipfile.ZipInfo], unpack_into: Path | None) -> None:
    """Member count, total size, compression ratios and free disk space, each against its bound."""
    if len(members) > MAX_MEMBERS:
        raise DataError(f"{archive.name} holds {len(members):,} members; the limit is {MAX_MEMBERS:,}: not unpacking it")
    total = sum(m.file_size for m in members)
    packed = max(archive.stat().st_size, 1)
    if total > MAX_UNPACKED:
        raise DataError(
            f"{archive.name} would unpack to {total / 2**30:.1f} GiB; the limit is {MAX_UNPACKED / 2**30:.0f} GiB: not unpacking it"
        )
    bomb = "an archive bomb or a damaged archive: not unpacking it"
    if total > RATIO_FLOOR and total / packed > MAX_RATIO:
        raise DataError(
            f"{archive.name} would unpack {packed:,} bytes into {total:,} ({total / packed:,.0f}x; the limit is {MAX_RATIO}x): {bomb}"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR and ratio > MAX_MEMBER_RATIO:
            raise DataError(f"{archive.name}: {member.filename!r} inflates {ratio:,.0f}x (the limit is {MAX_MEMBER_RATIO:,}x): {bomb}")
    if unpack_into is not None:
        free = shutil.disk_usage(unpack_into).free
        if total + DISK_MARGIN > free:
            raise DataError(
                f"{archive.name} unpacks to {total / 2**20:,.1f} MiB and {unpack_into} has {free / 2**20:,.1f} MiB free "
                f"(with {DISK_MARGIN // 2**20} MiB to spare): free some space and rerun"
            )


def _find_tree(unpacked: Path) -> Path:
    """`experiment_result/` at the top of the archive or one folder down (zips made of a parent folder)."""
    for candidate in (unpacked / TREE, *sorted(p / TREE for p in unpacked.iterdir() if p.is_dir())):
        if candidate.is_dir():
            return candidate
    raise DataError(f"the archive has no {TREE}/ folder")


def fetch_published(envs: Sequence[str] | None = None, force: bool = False, echo: Callable[[str], None] = print) -> list[FetchReport]:
    """Every environment with a published archive unless `envs` names some."""
    reports = []
    for env in envs if envs is not None else list(environment.published()):
        archive_of(env)  # an environment without published dialogues: one line
        target = published_root(env)
        source_file = target / "SOURCE.json"
        if source_file.is_file() and (target / TREE).is_dir() and not force:
            recorded = json.loads(source_file.read_text())
            reports.append(FetchReport(env, target, "present", recorded["dialogues"], recorded["sha256"], recorded["source"]))
            continue
        made = _missing_parents(target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".staging-{env}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            echo(f"{env}: fetching {archive_of(env)} ...")
            archive, source = _from_mirror(env, staging) if os.environ.get("NCUSIM_RESULTS_MIRROR") else _from_drive(env, staging)
            check_archive(archive, unpack_into=staging)
            digest = sha256_of(archive)
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(staging / "unpacked")
            tree = _find_tree(staging / "unpacked")
            count = len(dialogue_folders(tree, environment.get(env).is_dialogue_folder))
            if count == 0:
                raise DataError(f"{archive_of(env)} holds no {env} dialogue folders under {TREE}/")
            ready = staging / "ready"
            ready.mkdir()
            tree.rename(ready / TREE)
            write_text_atomic(
                ready / "SOURCE.json",
                json.dumps(
                    {"archive": archive_of(env), "sha256": digest, "bytes": archive.stat().st_size, "dialogues": count,
                     "source": source, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S")},
                    indent=2,
                ),
            )  # fmt: skip
            if target.exists():
                shutil.rmtree(target)
            ready.rename(target)
            reports.append(FetchReport(env, target, "fetched", count, digest, source))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for folder in made:  # a failed fetch leaves no empty results/published/ behind
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return reports


def _missing_parents(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first (what mkdir -p would create)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing
