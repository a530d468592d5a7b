"""`ncusim train` and `ncusim merge` (registered on the main app by `shared.cli`).

Heavy imports (torch, transformers, trl, peft) happen inside the commands, so `ncusim --help`
stays fast and the kit runs without the `train` extra until these commands are used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from shared.errors import ConfigError


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gpu_list(gpus: str) -> list[str]:
    chosen = [g.strip() for g in gpus.split(",") if g.strip()]
    if not chosen or not all(g.isdigit() or g.startswith(("GPU-", "MIG-")) for g in chosen):
        raise ConfigError(f"--gpus takes GPU indices separated by commas (e.g. 0,1), not {gpus!r}")
    return chosen


def _relaunch_distributed(gpus: list[str]) -> int:
    """Run this same command under `accelerate launch`, one process per GPU (DDP), as the original's README did."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_machines", "1", "--num_processes", str(len(gpus)), "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()),
        "-m", "shared.cli", *sys.argv[1:],
    ]  # fmt: skip
    typer.echo(f"launching {len(gpus)} processes on GPUs {','.join(gpus)} with accelerate")
    return subprocess.call(command, env={**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(gpus)})


def train(
    data: Annotated[str, typer.Option(help="a published set of the paper (README, Training) or a folder of dialogue folders")],
    model: Annotated[str, typer.Option(help="base model: `local` (the embedded SmolLM2-135M), a folder or a hub id")] = "local",
    out: Annotated[Path | None, typer.Option(help="output folder (default results/training/<model>-<data>)")] = None,
    reference: Annotated[bool, typer.Option(help="published sets: only the reference folders (offline with the data mirror)")] = False,
    rejection: Annotated[bool, typer.Option(help="keep only dialogues that PASS and are goal-aligned")] = True,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many optimisation steps (smoke runs)")] = None,
    gpus: Annotated[str | None, typer.Option(help="GPU indices, e.g. 0,1: several run DDP through accelerate (default: GPU 0)")] = None,
    max_length: Annotated[int, typer.Option(help="tokens per example; longer ones lose their oldest context")] = 4096,
    truncation: Annotated[str, typer.Option(help="front (the original: cut from the start) or keep-system")] = "front",
    epochs: Annotated[float, typer.Option(help="training epochs")] = 1.0,
    batch_size: Annotated[int, typer.Option(min=1, help="per-device batch size")] = 2,
    grad_accum: Annotated[int, typer.Option(min=1, help="gradient accumulation steps")] = 16,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 2e-4,
    weight_decay: Annotated[float, typer.Option()] = 0.0,
    warmup_ratio: Annotated[float, typer.Option(min=0.0, max=0.99)] = 0.03,
    scheduler: Annotated[str, typer.Option(help="transformers scheduler name")] = "cosine",
    lora_r: Annotated[int, typer.Option(min=1)] = 4,
    lora_alpha: Annotated[int, typer.Option(min=1)] = 32,
    lora_dropout: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.05,
    quantization: Annotated[str, typer.Option(help="auto (QLoRA on CUDA, LoRA on CPU), 4bit or none")] = "auto",
    bf16: Annotated[bool, typer.Option(help="bf16 weights, AMP and 4-bit compute (the original's --bf16)")] = False,
    fp16: Annotated[bool, typer.Option(help="fp16 weights and AMP (the original's --fp16)")] = False,
    gradient_checkpointing: Annotated[bool, typer.Option(help="also without 4-bit (under 4-bit it is always on)")] = False,
    seed: Annotated[int, typer.Option()] = 42,
    logging_steps: Annotated[int, typer.Option(min=1)] = 10,
    save_steps: Annotated[int, typer.Option(min=1)] = 500,
    num_proc: Annotated[int | None, typer.Option(help="processes for tokenising (default: up to 8)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an adapter already in the output folder")] = False,
) -> None:
    """Fine-tune an agent (LoRA / QLoRA SFT) on simulated dialogues, one example per agent message."""
    if gpus:
        chosen = _gpu_list(gpus)
        if len(chosen) > 1 and "LOCAL_RANK" not in os.environ:
            raise typer.Exit(_relaunch_distributed(chosen))
        if "LOCAL_RANK" not in os.environ:
            os.environ["CUDA_VISIBLE_DEVICES"] = chosen[0]
    elif "LOCAL_RANK" not in os.environ and "CUDA_VISIBLE_DEVICES" not in os.environ:
        # Several visible GPUs in one process would make the Trainer fall back to DataParallel.
        os.environ["CUDA_VISIBLE_DEVICES"] = "0"
    from shared.training.sft import TrainConfig
    from shared.training.sft import train as run_training

    config = TrainConfig(
        data=data,
        model=model,
        output_dir=str(out) if out else None,
        reference=reference,
        rejection=rejection,
        max_length=max_length,
        truncation=truncation,
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        learning_rate=lr,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        scheduler=scheduler,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        quantization=quantization,
        bf16=bf16,
        fp16=fp16,
        gradient_checkpointing=gradient_checkpointing,
        seed=seed,
        max_steps=max_steps,
        logging_steps=logging_steps,
        save_steps=save_steps,
        num_proc=num_proc,
        overwrite=overwrite,
    )
    run_training(config, echo=typer.echo)


def merge(
    adapter: Annotated[Path, typer.Option(help="the output folder of `ncusim train`")],
    out: Annotated[Path, typer.Option(help="where the merged model goes")],
    base: Annotated[str | None, typer.Option(help="base model (default: the adapter's own; `local` = the embedded model)")] = None,
    dtype: Annotated[str, typer.Option(help="bfloat16, float16 or float32")] = "bfloat16",
    overwrite: Annotated[bool, typer.Option(help="replace a model already in OUT")] = False,
) -> None:
    """Merge a LoRA adapter into its non-quantised base model (for `make serve-vllm MODEL=<out>`)."""
    from shared.training.merge import merge as run_merge

    run_merge(adapter, out, base=base, dtype=dtype, overwrite=overwrite, echo=typer.echo)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("merge")(merge)
