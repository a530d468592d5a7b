"""In-process transformers backend: `hf:<folder or hub id>` and the embedded default `local`.

Generation runs in a worker thread (the event loop stays free) and one at a time per model
(a CPU model gains nothing from parallel generate calls and would only thrash).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from shared.errors import ConfigError, ModelError
from shared.llm.base import BaseChatModel, Completion, Message

DEFAULT_MAX_NEW_TOKENS = 512


class HFLocalModel(BaseChatModel):
    backend = "hf"

    def __init__(self, spec: str, source: str, *, device: str = "cpu", **kw: Any):
        self.source = source
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        kw.setdefault("max_concurrency", 1)
        super().__init__(spec, source, f"inprocess:{source}", **kw)

    def where(self) -> str:
        return f"in-process model {self.source}"

    def load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError:
                raise ConfigError("hf: and local models need the `local` extra: run `make setup`") from None
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.source)
                model = AutoModelForCausalLM.from_pretrained(self.source, dtype="auto").to(self.device)
            except OSError as exc:
                raise ConfigError(f"cannot load model {self.source!r}: {str(exc).splitlines()[0]}") from None
            model.eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def _generate(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        import torch

        with self._lock:
            tokenizer, model = self.load()
            inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            temperature = float(params.get("temperature", 0.0) or 0.0)
            options: dict[str, Any] = {
                "max_new_tokens": int(params.get("max_tokens") or DEFAULT_MAX_NEW_TOKENS),
                "do_sample": temperature > 0,
                "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            }
            if temperature > 0:
                options["temperature"] = temperature
                options["top_p"] = float(params.get("top_p", 1.0))
                if params.get("seed") is not None:
                    torch.manual_seed(int(params["seed"]))
            else:
                options.update(temperature=None, top_p=None, top_k=None)
            if params.get("stop"):
                options["stop_strings"] = list(params["stop"])
                options["tokenizer"] = tokenizer
            prompt_len = int(inputs["input_ids"].shape[1])
            try:
                with torch.inference_mode():
                    output = model.generate(**inputs, **options)
            except RuntimeError as exc:
                raise ModelError(f"{self.where()} failed to generate: {str(exc).splitlines()[0]}") from None
            new = output[0][prompt_len:]
            text = tokenizer.decode(new, skip_special_tokens=True)
            for stop in params.get("stop") or []:
                text = text.split(stop)[0]
            finish = "length" if len(new) >= options["max_new_tokens"] else "stop"
            return Completion(text, prompt_len, int(len(new)), finish)

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        return await asyncio.to_thread(self._generate, messages, params)
