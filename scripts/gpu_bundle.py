"""Build an offline bundle for `scripts/gpu_check.sh` on a CUDA machine that cannot reach the internet.

The bundle (default `.gpu/`, ignored by git) holds what such a machine lacks:
  base/     a small random Llama with SmolLM2's tokenizer and chat template (bf16, about 7 M
            parameters): QLoRA's mechanics (NF4 load, k-bit preparation, paged AdamW, adapter save,
            merge) do not depend on the weights, and a real base would not fit the transfer limit;
  mirror/   NCUser/<repo path> with only the files `ncusim train --reference` fetches, so the data
            layer verifies them by sha256 as it would from GitHub;
  whl/      wheels for Python 3.12 (bitsandbytes without the CUDA builds other than 13.x, trl,
            datasets, peft, transformers, the serving extras, openai), installed with --no-deps.
Usage (here, with the kit's .venv): .venv/bin/python scripts/gpu_bundle.py [--out .gpu] [--no-wheels]
On the CUDA machine: bash scripts/gpu_check_offline.sh (see README "Serving and training on GPUs").
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

WHEELS = (
    "bitsandbytes==0.50.2", "trl==1.16.0", "datasets==5.2.0", "dill==0.4.1", "multiprocess==0.70.19", "peft==0.21.2",
    "transformers==5.24.0", "openai==3.57.0", "httpx2==2.16.2", "httpcore2==2.16.2", "truststore==0.10.5", "jiter==0.19.0",
    "distro==1.9.0", "sniffio==1.3.1", "pydantic==2.14.4", "pydantic_core==2.50.5", "annotated-types==0.8.0",
    "typing-inspection==0.4.5", "fastapi==0.165.0", "opentelemetry-api==1.45.2", "starlette==1.10.0", "uvicorn==0.54.0",
)  # fmt: skip
PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64", "manylinux_2_28_x86_64")
# bitsandbytes ships one library per CUDA release (43 MB); the machine's torch is built for CUDA 13.
FOREIGN_BUILDS = re.compile(r"libbitsandbytes_(cuda1[12]\d|rocm|xpu)")


def download_wheels(folder: Path, python: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version", python]
    subprocess.run([*command, "--implementation", "cp", *platforms, "-d", str(folder), *WHEELS], check=True)
    for wheel in folder.glob("bitsandbytes-*.whl"):
        slim_wheel(wheel)


def slim_wheel(wheel: Path) -> None:
    """Drop the libraries of other CUDA/ROCm releases from the wheel and from its RECORD."""
    slim = wheel.with_suffix(".slim")
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if FOREIGN_BUILDS.search(info.filename):
                continue
            data = zin.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(line for line in lines if not FOREIGN_BUILDS.search(line)) + "\n").encode()
            zout.writestr(info, data)
    slim.replace(wheel)


def make_base(folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from shared.llm.embedded import ensure_embedded_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_embedded_model())
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    # Called as Module.to: transformers wraps its `to` in functools.wraps, whose stub does not bind `self`.
    module: torch.nn.Module = model
    module.to(torch.bfloat16)  # in place: `to` converts the model's own parameters and returns the model
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    print(f"base: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters in {folder}")


def make_mirror(folder: Path, data_set: str) -> None:
    import os

    from shared.training.dataset import published_entries

    source = Path(os.environ.get("NCUSIM_DATA_MIRROR", "")) / "NCUser"
    if not source.is_dir():
        sys.exit("gpu_bundle: set NCUSIM_DATA_MIRROR to the data mirror (the folder holding NCUser/)")
    names, entries = published_entries(data_set, reference=True)
    for entry in entries:
        target = folder / "NCUser" / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / entry.path, target)
    print(f"mirror: {len(names)} folders, {len(entries)} files of {data_set} in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    parser.add_argument("--python", default="3.12", help="the CUDA machine's Python version, for the wheels")
    parser.add_argument("--data-set", default="multiwoz_train_dataset")
    parser.add_argument("--no-wheels", action="store_true")
    args = parser.parse_args()
    make_base(args.out / "base")
    make_mirror(args.out / "mirror", args.data_set)
    if not args.no_wheels:
        download_wheels(args.out / "whl", args.python)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"bundle: {size / 2**20:.1f} MiB in {args.out}")


if __name__ == "__main__":
    main()
