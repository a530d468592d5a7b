"""Merge a LoRA adapter into its non-quantised base model, for serving with vLLM (as the original's train_fin.py merged).

The base is loaded unquantised (bf16 by default, also after QLoRA training), the adapter applied
with `PeftModel.from_pretrained` and folded in with `merge_and_unload()`; the merged weights are
saved with the tokenizer and its chat template (from the adapter folder, where training saved
them, else from the base), so `make serve-vllm MODEL=<out>` serves the agent as trained.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError
from shared.files import write_json_atomic
from shared.training.sft import resolve_base

DTYPES = ("bfloat16", "float16", "float32")
MERGE_INFO = "ncusim_merge.json"

Echo = Callable[[str], None]


@dataclass(frozen=True)
class MergeResult:
    output_dir: Path
    base: str
    dtype: str
    seconds: float


def adapter_base(adapter: Path) -> str:
    """The base model the adapter was trained on (its adapter_config.json)."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"{adapter} has no adapter_config.json: give the output folder of `ncusim train`") from None
    except ValueError:
        raise ConfigError(f"{adapter}/adapter_config.json is not valid JSON") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{adapter}/adapter_config.json names no base model: pass --base")
    return str(base)


def merge(
    adapter: Path, output_dir: Path, base: str | None = None, dtype: str = "bfloat16", overwrite: bool = False, echo: Echo = print
) -> MergeResult:
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}: choose {', '.join(DTYPES)}")
    if not adapter.is_dir():
        raise ConfigError(f"{adapter} is not a folder: give the output folder of `ncusim train`")
    base_path = resolve_base(base) if base else adapter_base(adapter)
    if (output_dir / "config.json").exists() and not overwrite:
        raise ConfigError(f"{output_dir} already holds a model: choose another OUT= or pass --overwrite")
    if output_dir.resolve() == adapter.resolve():
        raise ConfigError("OUT must differ from ADAPTER (the merged model is a full model folder)")

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    echo(f"merging {adapter} into {base_path} ({dtype})")
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    has_tokenizer = any((adapter / name).exists() for name in ("tokenizer.json", "tokenizer_config.json"))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter) if has_tokenizer else base_path)
    output_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    write_json_atomic(output_dir / MERGE_INFO, {"adapter": str(adapter.resolve()), "base": base_path, "dtype": dtype})
    seconds = time.monotonic() - started
    echo(f"merged model in {output_dir} ({seconds:.1f}s); serve it with `make serve-vllm MODEL={output_dir}`")
    return MergeResult(output_dir, base_path, dtype, seconds)
