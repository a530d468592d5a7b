"""Supervised fine-tuning of an agent with LoRA (CPU, or CUDA without quantisation) or QLoRA (CUDA), via trl + peft.

Defaults are the original's (multiwoz_env/train_fin.py): LoRA r=4, alpha=32, dropout 0.05 on the seven
projections; lr 2e-4 cosine with 3 % warmup, 1 epoch, batch 2 x accumulation 16, seed 42, 4096
tokens; QLoRA = NF4 with double quantisation, fp16 compute (bf16 with --bf16), paged AdamW.
The output folder holds `cli_args.json` (written before training), `dataset_summary.json`,
`loss_log.jsonl`, the adapter, the tokenizer and `training_args.bin`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from shared.errors import ConfigError
from shared.files import write_json_atomic
from shared.paths import results_dir
from shared.training.dataset import ExampleStats, Selection, Truncation, build_dataset, resolve_data, select

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
QUANTIZATION = ("auto", "4bit", "none")
LOSS_LOG = "loss_log.jsonl"

Echo = Callable[[str], None]


@dataclass
class TrainConfig:
    data: str
    model: str = "local"
    output_dir: str | None = None
    reference: bool = False
    rejection: bool = True
    max_length: int = 4096
    truncation: str = Truncation.front.value
    epochs: float = 1.0
    batch_size: int = 2
    grad_accum: int = 16
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    lora_r: int = 4
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = LORA_TARGETS
    quantization: str = "auto"  # auto: QLoRA on CUDA, plain LoRA on CPU
    bf16: bool = False
    fp16: bool = False
    gradient_checkpointing: bool = False
    seed: int = 42
    max_steps: int | None = None
    logging_steps: int = 10
    save_steps: int = 500
    save_total_limit: int = 3
    num_proc: int | None = None
    overwrite: bool = False
    progress: bool = True

    def validate(self) -> None:
        if self.quantization not in QUANTIZATION:
            raise ConfigError(f"unknown quantization {self.quantization!r}: choose {', '.join(QUANTIZATION)}")
        if self.truncation not in {t.value for t in Truncation}:
            raise ConfigError(f"unknown truncation {self.truncation!r}: choose {', '.join(t.value for t in Truncation)}")
        if self.bf16 and self.fp16:
            raise ConfigError("choose one of --bf16 and --fp16")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("--max-steps must be at least 1")
        if self.max_length < 16:
            raise ConfigError("--max-length must be at least 16 tokens")


@dataclass
class FitResult:
    output_dir: Path
    steps: int
    logged: list[tuple[int, float]]  # (step, loss) per logged step
    mean_loss: float | None
    seconds: float
    device: str
    quantized: bool
    four_bit_layers: int = 0  # bitsandbytes Linear4bit modules in the trained model (QLoRA evidence)
    peak_gpu_gib: float | None = None  # torch.cuda.max_memory_allocated over load + training

    @property
    def losses(self) -> list[float]:
        return [loss for _, loss in self.logged]


@dataclass
class TrainResult:
    fit: FitResult
    selection: Selection
    stats: ExampleStats
    base: str
    extras: dict[str, Any] = field(default_factory=dict)


def resolve_base(model: str) -> str:
    """`local` is the embedded model's converted folder; anything else is a folder or a hub id for transformers."""
    if model in ("local", "embedded"):
        from shared.llm.embedded import ensure_embedded_model

        return str(ensure_embedded_model())
    return model.removeprefix("hf:")


def short_name(text: str) -> str:
    name = Path(text.rstrip("/")).name or text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "model"


def default_output_dir(config: TrainConfig) -> Path:
    model = "smollm2-135m-instruct" if config.model in ("local", "embedded") else short_name(config.model)
    data = short_name(config.data) + ("-reference" if config.reference else "")
    return results_dir() / "training" / f"{model}-{data}"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def load_tokenizer(base: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{base} has no chat template: training renders dialogues with the base model's own template")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def use_quantization(config: TrainConfig, cuda: bool) -> bool:
    if config.quantization == "4bit" and not cuda:
        raise ConfigError("QLoRA (--quantization 4bit) needs a CUDA GPU; on CPU use --quantization none (plain LoRA)")
    quantize = config.quantization == "4bit" or (config.quantization == "auto" and cuda)
    if quantize:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise ConfigError("QLoRA needs bitsandbytes: pip install -e '.[train-cuda]' (or --quantization none)") from None
    return quantize


def load_model(base: str, config: TrainConfig, quantize: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # The original: bf16 with --bf16, else fp16 with --fp16, else fp32 (the documented run: fp32 + fp16 4-bit compute).
    dtype = torch.bfloat16 if config.bf16 else torch.float16 if config.fp16 else torch.float32
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quantize:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if config.bf16 else torch.float16,
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if quantize:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    return model


def loss_log_callback(path: Path) -> Any:
    """A trainer callback appending every log record (loss, grad norm, lr, ...) to `path` on the main process."""
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and logs:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")

    return LossLog()


def read_losses(path: Path) -> tuple[list[tuple[int, float]], float | None]:
    """(step, loss) per logged step of a loss_log.jsonl, and the Trainer's mean training loss over the run."""
    if not path.is_file():
        return [], None
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    mean = next((float(r["train_loss"]) for r in reversed(records) if "train_loss" in r), None)
    return [(int(r["step"]), float(r["loss"])) for r in records if "loss" in r], mean


def warmup_argument(config_class: type, ratio: float) -> dict[str, Any]:
    """transformers 4.x has `warmup_ratio`; 5.x dropped it and reads a float below 1 in `warmup_steps` as the ratio.
    Typed `Any`: which keyword it is depends on the installed transformers, so no static type can check it."""
    names = {f.name for f in fields(config_class)}
    return {"warmup_ratio": ratio} if "warmup_ratio" in names else {"warmup_steps": ratio}


def fit(base: str, tokenizer: Any, dataset: Any, config: TrainConfig, output_dir: Path) -> FitResult:
    """LoRA/QLoRA SFT of `base` on a tokenised dataset (`input_ids`, `labels`); saves adapter + tokenizer in output_dir."""
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    quantize = use_quantization(config, cuda)
    model = load_model(base, config, quantize)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=list(config.target_modules),
    )
    args = SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        **warmup_argument(SFTConfig, config.warmup_ratio),
        lr_scheduler_type=config.scheduler,
        optim="paged_adamw_32bit" if quantize else "adamw_torch",
        bf16=config.bf16,
        fp16=config.fp16,
        # trl turns checkpointing on by default; the original had it only under 4-bit (k-bit preparation) or by flag.
        gradient_checkpointing=config.gradient_checkpointing or quantize,
        seed=config.seed,
        logging_steps=config.logging_steps,
        logging_first_step=True,  # a smoke run shorter than logging_steps still logs a loss
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        dataloader_num_workers=min(4, os.cpu_count() or 1) if cuda else 0,
        ddp_find_unused_parameters=False,
        prediction_loss_only=True,
        label_names=["labels"],
        report_to="none",  # the original logged to every installed tracker implicitly (wandb asked for a login)
        disable_tqdm=not config.progress,
        use_cpu=not cuda,
        max_length=None,  # examples are already truncated by the dataset builder (front cut, target kept)
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    loss_log = output_dir / LOSS_LOG
    if is_main_process():
        loss_log.unlink(missing_ok=True)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[loss_log_callback(loss_log)],
    )
    if quantize:
        # trl casts QLoRA adapters to bf16; the original trained them (and the optimiser state) in fp32.
        assert trainer.model is not None  # the Trainer was given a model
        for param in trainer.model.parameters():
            if param.requires_grad:
                param.data = param.data.float()
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    trainer.save_model(str(output_dir))
    device = "cuda" if cuda else "cpu"
    logged, mean_loss = read_losses(loss_log)
    assert trainer.model is not None
    four_bit = sum(1 for module in trainer.model.modules() if type(module).__name__ == "Linear4bit")
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return FitResult(output_dir, trainer.state.global_step, logged, mean_loss, seconds, device, quantize, four_bit, peak)


def train(config: TrainConfig, echo: Echo = print) -> TrainResult:
    """Select dialogues (rejection sampling), build examples, fine-tune, save; prints what it does."""
    import torch

    config.validate()
    say: Echo = echo if is_main_process() else (lambda _line: None)
    output_dir = Path(config.output_dir) if config.output_dir else default_output_dir(config)
    if (output_dir / "adapter_config.json").exists() and not config.overwrite:
        raise ConfigError(f"{output_dir} already holds an adapter: choose another OUT= or pass --overwrite")
    use_quantization(config, torch.cuda.is_available())  # fail before fetching and tokenising
    description, folders = resolve_data(config.data, config.reference, say)
    selection = select(folders, rejection=config.rejection)
    say(f"data {description}: {selection.summary()}")
    for folder, reason in selection.rejected[:5]:
        say(f"  rejected {folder.name}: {reason}")
    if not selection.dialogues:
        raise ConfigError(f"no dialogue left to train on under {config.data} (rejection sampling kept none; --no-rejection keeps all)")
    base = resolve_base(config.model)
    tokenizer = load_tokenizer(base)
    num_proc = config.num_proc or min(8, os.cpu_count() or 1)
    dataset, stats = build_dataset(selection.dialogues, tokenizer, config.max_length, Truncation(config.truncation), num_proc)
    say(f"examples: {stats.summary()}")
    if is_main_process():
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(output_dir / "cli_args.json", {**asdict(config), "output_dir": str(output_dir), "base_path": base})
        write_json_atomic(
            output_dir / "dataset_summary.json", {"data": description, "selection": selection.to_dict(), "examples": stats.to_dict()}
        )
    result = fit(base, tokenizer, dataset, config, output_dir)
    logged = ", ".join(f"{loss:.4f}@{step}" for step, loss in result.logged[:3] + result.logged[3:][-3:])
    mean = f"mean {result.mean_loss:.4f}" if result.mean_loss is not None else "no mean"
    loss_text = f"loss {logged or 'not logged'} ({mean}; all in {LOSS_LOG})"
    mode = f"QLoRA (4-bit: {result.four_bit_layers} Linear4bit layers)" if result.quantized else "LoRA"
    peak = f", peak GPU memory {result.peak_gpu_gib:.2f} GiB" if result.peak_gpu_gib is not None else ""
    say(f"trained {mode} on {result.device}: {result.steps} steps in {result.seconds:.1f}s{peak}, {loss_text}; adapter in {output_dir}")
    return TrainResult(result, selection, stats, base)
