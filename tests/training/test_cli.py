"""`ncusim train` / `ncusim merge` argument handling that needs no model: multi-GPU relaunch, early errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.errors import ConfigError
from shared.training import cli as training_cli


def test_several_gpus_relaunch_under_accelerate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_call(command: list[str], env: dict[str, str]) -> int:
        calls.append((command, env))
        return 0

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(training_cli.subprocess, "call", fake_call)
    argv = ["ncusim", "train", "--data", "multiwoz_train_dataset", "--gpus", "2,3", "--max-steps", "5"]
    monkeypatch.setattr(sys, "argv", argv)
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    ((command, env),) = calls
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2" and "--multi_gpu" in command
    assert command[command.index("-m", 3) :] == ["-m", "shared.cli", *argv[1:]]
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_one_gpu_is_pinned_and_bad_lists_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none"), "--gpus", "0,x"])
    assert isinstance(result.exception, ConfigError) and "GPU indices" in str(result.exception)


def test_qlora_on_a_cpu_machine_fails_before_any_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none"), "--quantization", "4bit"])
    assert isinstance(result.exception, ConfigError) and "needs a CUDA GPU" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--quantization", "8bit"])
    assert isinstance(result.exception, ConfigError) and "unknown quantization" in str(result.exception)


def test_merge_needs_an_adapter_folder(tmp_path: Path) -> None:
    result: Any = CliRunner().invoke(app, ["merge", "--adapter", str(tmp_path), "--out", str(tmp_path / "m")])
    assert isinstance(result.exception, ConfigError) and "adapter_config.json" in str(result.exception)
    assert not (tmp_path / "m").exists() and os.listdir(tmp_path) == []
