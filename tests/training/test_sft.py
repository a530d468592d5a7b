"""LoRA SFT on CPU with the embedded model as the base: loss goes down, `ncusim train` saves, `ncusim merge` generates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.training import dataset as ds
from shared.training.sft import LOSS_LOG, TrainConfig, fit

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cpu_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import torch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    # These tensors are tiny: one thread is as fast, and several threads spin badly on a busy 2-core runner.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_loss_decreases_on_a_repeated_batch(embedded_base: Path, tokenizer: Any, reference_folders: Path, tmp_path: Path) -> None:
    from datasets import Dataset

    messages = ds.read_messages(reference_folders / "multiwoz_train_dataset" / "MUL0203.json_0")
    assert messages is not None
    prefix, target = min(ds.split_examples(messages), key=lambda pair: len(pair[1]["content"]))
    example = ds.tokenize_example(tokenizer, prefix, target, max_length=96)
    assert example.target_tokens < 96 and len(example.input_ids) == 96
    dataset = Dataset.from_dict({"input_ids": [example.input_ids] * 4, "labels": [example.labels] * 4})
    config = TrainConfig(
        data="unused",
        batch_size=1,
        grad_accum=1,
        learning_rate=2e-3,
        scheduler="constant",
        warmup_ratio=0.0,
        max_steps=3,
        logging_steps=1,
        save_steps=1000,
        progress=False,
    )
    result = fit(str(embedded_base), tokenizer, dataset, config, tmp_path / "adapter")
    assert result.steps == 3 and result.device == "cpu" and not result.quantized
    losses = result.losses
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 0.5, losses


def test_train_then_merge_then_generate(crafted_tree: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer, BatchEncoding

    out = tmp_path / "run"
    runner = CliRunner()
    args = ["train", "--data", str(crafted_tree), "--model", "local", "--out", str(out), "--max-steps", "2", "--max-length", "96"]
    args += ["--batch-size", "1", "--grad-accum", "1", "--logging-steps", "1", "--warmup-ratio", "0", "--num-proc", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "kept 2/5 dialogues" in result.output and "trained LoRA on cpu: 2 steps" in result.output
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja", "training_args.bin"):
        assert (out / name).is_file(), name
    cli_args = json.loads((out / "cli_args.json").read_text())
    assert cli_args["lora_r"] == 4 and cli_args["lora_alpha"] == 32 and cli_args["max_steps"] == 2 and cli_args["seed"] == 42
    assert list(cli_args["target_modules"]) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    summary = json.loads((out / "dataset_summary.json").read_text())
    assert summary["selection"]["kept"] == 2 and summary["selection"]["total"] == 5
    records = [json.loads(line) for line in (out / LOSS_LOG).read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2]
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["r"] == 4 and sorted(adapter_config["target_modules"]) == sorted(cli_args["target_modules"])
    lora_b = [t for k, t in load_file(out / "adapter_model.safetensors").items() if "lora_B" in k]
    assert len(lora_b) == 30 * 7 and any(bool(t.abs().sum() > 0) for t in lora_b)  # trained away from B = 0

    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "already holds an adapter" in str(again.exception)

    merged = tmp_path / "merged"
    result = runner.invoke(app, ["merge", "--adapter", str(out), "--out", str(merged), "--dtype", "float32"])
    assert result.exit_code == 0, (result.output, result.exception)
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    base = AutoModelForCausalLM.from_pretrained(cli_args["base_path"])
    assert not any("lora" in name for name, _ in model.named_parameters())
    changed = [name for (name, p), (_, q) in zip(model.named_parameters(), base.named_parameters(), strict=True) if not torch.equal(p, q)]
    assert changed and all(any(m in name for m in cli_args["target_modules"]) for name in changed)
    tokenizer = AutoTokenizer.from_pretrained(str(merged))
    hello = [{"role": "user", "content": "Hello"}]
    prompt = tokenizer.apply_chat_template(hello, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert isinstance(prompt, BatchEncoding)  # what return_dict=True gives
    generated = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] > prompt["input_ids"].shape[1]
    reply = tokenizer.decode(generated[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert isinstance(reply, str) and reply.strip()
