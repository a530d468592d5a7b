"""Write bytecode for the modules the kit runs, and only those (the CPU image's builder stage).

pip's usual install-time compilation writes a `.pyc` for every module of every package, about
290 MB for the `local` extra, most of it for code the kit never imports (transformers' hundreds of
model families, sympy, torch's compiler stack). The image installs with `--no-compile` and runs this
instead: every module of the kit is compiled, then the kit's real work is done once with bytecode
writing on, so the third-party modules it imports get their `.pyc` and nothing else does.
Anything imported later that was not warmed here still works: it is compiled in memory at import.

usage: python warm_bytecode.py [--embedded]   (--embedded: also load and run the embedded model)
"""

from __future__ import annotations

import asyncio
import compileall
import importlib
import os
import pkgutil
import sys
import sysconfig
import tempfile
from io import BytesIO
from pathlib import Path

KIT_PACKAGES = ("shared", "multiwoz_env", "tau_env")


def pyc_count(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.pyc"))


def import_kit() -> int:
    """Import every module of the kit (their top-level third-party imports come with them)."""
    failed = 0
    for name in KIT_PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            try:
                importlib.import_module(info.name)
            except ImportError as exc:  # an optional extra this image does not have (vllm, peft, ...)
                failed += 1
                print(f"warm: skipped {info.name}: {exc}", file=sys.stderr)
    return failed


def draw_a_plot() -> None:
    """The report's plots render with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots()
    axes.bar(["a", "b"], [1.0, 2.0])
    figure.savefig(BytesIO(), format="png")
    pyplot.close(figure)


def run_embedded_model() -> None:
    """Convert the embedded model and generate a few tokens, as `MODELS=local` does."""
    from shared.llm.embedded import ensure_embedded_model
    from shared.llm.resolve import resolve

    ensure_embedded_model()
    model = resolve("local", cache=False)
    reply = asyncio.run(model.chat([{"role": "user", "content": "Say hello."}], max_tokens=4))
    print(f"warm: the embedded model answered {reply.text!r}")


def main() -> None:
    if sys.dont_write_bytecode:
        sys.exit("warm: bytecode writing is off (unset PYTHONDONTWRITEBYTECODE, drop -B)")
    site = Path(sysconfig.get_paths()["purelib"])
    before = pyc_count(site)
    for name in KIT_PACKAGES:
        compileall.compile_dir(site / name, quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        # Caches the warm-up writes (converted model, font list) go to a folder that is deleted.
        os.environ["NCUSIM_CACHE"] = str(Path(scratch) / "cache")
        os.environ["HF_HOME"] = str(Path(scratch) / "hf")
        os.environ["MPLCONFIGDIR"] = str(Path(scratch) / "mpl")
        skipped = import_kit()
        draw_a_plot()
        if "--embedded" in sys.argv[1:]:
            run_embedded_model()
    print(f"warm: {pyc_count(site) - before} .pyc written ({skipped} kit modules skipped for missing extras)")


if __name__ == "__main__":
    main()
