"""scripts/docker_stamp.sh: CI's check that the container inputs are the ones `make docker-test`
passed on, run in a real clone of the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]


def stamp(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["scripts/docker_stamp.sh", *args], cwd=clone, capture_output=True, text=True, timeout=60)


def test_a_changed_input_needs_a_new_record_and_other_files_do_not(tmp_path: Path) -> None:
    clone = tmp_path / "kit"
    subprocess.run(["git", "clone", "-q", str(KIT), str(clone)], check=True, timeout=120)
    before = stamp(clone, "hash").stdout.strip()
    assert len(before) == 64

    written = stamp(clone, "write", "989", "206")
    assert written.returncode == 0 and '"image_mb": 989' in (clone / "docker" / "verified.json").read_text()
    assert stamp(clone, "check").returncode == 0
    assert stamp(clone, "hash").stdout.strip() == before  # the record is not one of the inputs

    (clone / "README.md").write_text("not a container input\n")
    assert stamp(clone, "check").returncode == 0

    with (clone / "Makefile").open("a") as makefile:
        makefile.write("\n# a change\n")
    checked = stamp(clone, "check")
    assert checked.returncode == 1 and "run it on a machine with docker or podman" in checked.stderr
    assert stamp(clone, "hash").stdout.strip() != before
