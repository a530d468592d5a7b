"""Strip the symbol tables from a tree's shared libraries, keeping only copies that still load.

Wheels ship their libraries with full symbol tables (about 140 MB in the CPU image, 70 MB of it in
libtorch_cpu.so) that nothing at run time reads. `strip --strip-unneeded` removes them, but it can
break a library that auditwheel's patchelf has rewritten ("ELF load command address/offset not
page-aligned" from numpy's bundled OpenBLAS), so every stripped copy is loaded in a fresh
interpreter first, and a copy that does not load is dropped and the original kept.

usage: python strip_libraries.py ROOT   (needs binutils' `strip`; prints what it saved)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LOAD_CHECK = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
MIN_BYTES = 64 * 1024  # smaller libraries are not worth a check


def libraries(root: Path) -> list[Path]:
    found = [p for p in root.rglob("*.so*") if p.is_file() and not p.is_symlink() and (p.suffix == ".so" or ".so." in p.name)]
    return sorted(p for p in found if p.stat().st_size >= MIN_BYTES)


def strip_one(library: Path) -> int:
    """Bytes saved (0 when the stripped copy is no smaller or does not load)."""
    # Beside the original, so that $ORIGIN in its run path finds the same neighbours.
    candidate = library.with_name(f".{library.name}.stripped")
    done = subprocess.run(["strip", "--strip-unneeded", "-o", str(candidate), str(library)], capture_output=True, check=False)
    try:
        if done.returncode != 0 or candidate.stat().st_size >= library.stat().st_size:
            return 0
        loads = subprocess.run([sys.executable, "-c", LOAD_CHECK, str(candidate)], capture_output=True, check=False)
        if loads.returncode != 0:
            original = subprocess.run([sys.executable, "-c", LOAD_CHECK, str(library)], capture_output=True, check=False)
            why = "the stripped copy does not load" if original.returncode == 0 else "it cannot be load-checked alone"
            print(f"strip: kept {library.name} as it is ({why})")
            return 0
        saved = library.stat().st_size - candidate.stat().st_size
        shutil.copymode(library, candidate)
        os.replace(candidate, library)
        return saved
    finally:
        candidate.unlink(missing_ok=True)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if shutil.which("strip") is None:
        print("strip: binutils' strip is not installed; the libraries stay as they are")
        return
    found = libraries(Path(sys.argv[1]))
    saved = sum(strip_one(library) for library in found)
    print(f"strip: {len(found)} libraries checked, {saved / 1e6:.1f} MB of symbol tables removed")


if __name__ == "__main__":
    main()
