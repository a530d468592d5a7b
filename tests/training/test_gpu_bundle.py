"""scripts/gpu_bundle.py: the slimmed bitsandbytes wheel keeps its CUDA 13 and CPU libraries and a RECORD that matches."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_bundle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_bundle", ROOT / "scripts" / "gpu_bundle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slim_wheel_drops_other_cuda_builds_from_files_and_record(tmp_path: Path) -> None:
    libs = ["cpu", "cuda118", "cuda126", "cuda128", "cuda130", "cuda132", "rocm64", "xpu2026"]
    wheel = tmp_path / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    names = [f"bitsandbytes/libbitsandbytes_{lib}.so" for lib in libs] + ["bitsandbytes/__init__.py"]
    record = "\n".join(f"{name},sha256=x,1" for name in names) + "\nbitsandbytes-0.50.2.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
        archive.writestr("bitsandbytes-0.50.2.dist-info/RECORD", record)

    load_bundle().slim_wheel(wheel)

    kept = ["bitsandbytes/libbitsandbytes_cpu.so", "bitsandbytes/libbitsandbytes_cuda130.so", "bitsandbytes/libbitsandbytes_cuda132.so"]
    with zipfile.ZipFile(wheel) as archive:
        files = sorted(n for n in archive.namelist() if n.endswith(".so"))
        recorded = sorted(line.split(",")[0] for line in archive.read("bitsandbytes-0.50.2.dist-info/RECORD").decode().splitlines())
    assert files == kept
    assert recorded == sorted([*kept, "bitsandbytes/__init__.py", "bitsandbytes-0.50.2.dist-info/RECORD"])
    assert not list(tmp_path.glob("*.slim"))  # replaced in place
