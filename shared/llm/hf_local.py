"""In-process transformers backend: `hf:<folder or hub id>` and the embedded default `local`.

Generation runs in a worker thread (the event loop stays free) and one at a time per model
(a CPU model gains nothing from parallel generate calls and would only thrash).

Prefix caching: an agent re-sends its whole growing conversation at every step, so the key/value
cache of recent prompts is kept (a few entries, least recently used first out) and a new prompt
only computes the tokens after its longest cached prefix. Outputs are the same as without it.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import TYPE_CHECKING, Any

from shared.errors import ConfigError, ModelError
from shared.llm.base import BaseChatModel, Completion, Message

if TYPE_CHECKING:
    from torch.nn import Module

DEFAULT_MAX_NEW_TOKENS = 512
PREFIX_CACHE_ENTRIES = 4
MIN_REUSED_TOKENS = 32


class PrefixCache:
    """Key/value caches of recent prompts, for reuse by prompts that start the same way."""

    def __init__(self, entries: int = PREFIX_CACHE_ENTRIES) -> None:
        self.entries = entries
        self.items: list[tuple[list[int], Any]] = []  # (token ids the cache covers, cache)
        self.reused_tokens = 0
        self.computed_tokens = 0

    def take(self, ids: list[int]) -> tuple[Any, int]:
        """A private copy of the best cache for `ids`, cropped to the shared prefix, and its length."""
        best, best_len = None, 0
        for index, (cached_ids, _cache) in enumerate(self.items):
            n = 0
            limit = min(len(cached_ids), len(ids) - 1)  # at least one token must be computed
            while n < limit and cached_ids[n] == ids[n]:
                n += 1
            if n > best_len:
                best, best_len = index, n
        if best is None or best_len < MIN_REUSED_TOKENS:
            self.computed_tokens += len(ids)
            return None, 0
        cached_ids, cache = self.items.pop(best)
        self.items.append((cached_ids, cache))  # most recently used last
        mine = copy.deepcopy(cache)
        surplus = mine.get_seq_length() - best_len
        if surplus > 0:
            mine.crop(-surplus)  # transformers 5: a negative count removes that many tokens
        self.reused_tokens += best_len
        self.computed_tokens += len(ids) - best_len
        return mine, best_len

    def put(self, ids: list[int], cache: Any) -> None:
        self.items.append((ids, cache))
        del self.items[: max(0, len(self.items) - self.entries)]


def _cache_keyword() -> str:
    """transformers 5 calls the generate argument `cache`; 4.x called it `past_key_values`."""
    from transformers.generation.utils import GenerateDecoderOnlyOutput

    return "cache" if "cache" in GenerateDecoderOnlyOutput.__dataclass_fields__ else "past_key_values"


class HFLocalModel(BaseChatModel):
    backend = "hf"

    def __init__(self, spec: str, source: str, *, device: str = "cpu", **kw: Any):
        self.source = source
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self.prefix_cache = PrefixCache()
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
                # Typed as a Module: transformers wraps its `to` in functools.wraps, whose stub does not bind `self`.
                model: Module = AutoModelForCausalLM.from_pretrained(self.source, dtype="auto")
                model = model.to(self.device)
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
            ids = inputs["input_ids"][0].tolist()
            past, _ = self.prefix_cache.take(ids)
            if past is not None:
                options[_cache_keyword()] = past
            try:
                with torch.inference_mode():
                    output = model.generate(**inputs, **options, return_dict_in_generate=True)
            except RuntimeError as exc:
                raise ModelError(f"{self.where()} failed to generate: {str(exc).splitlines()[0]}") from None
            cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
            if cache is not None and hasattr(cache, "crop"):
                covered = cache.get_seq_length()
                self.prefix_cache.put(output.sequences[0][:covered].tolist(), cache)
            new = output.sequences[0][prompt_len:]
            text = tokenizer.decode(new, skip_special_tokens=True)
            for stop in params.get("stop") or []:
                text = text.split(stop)[0]
            finish = "length" if len(new) >= options["max_new_tokens"] else "stop"
            return Completion(text, prompt_len, int(len(new)), finish)

    async def _complete(self, messages: list[Message], params: dict[str, Any]) -> Completion:
        return await asyncio.to_thread(self._generate, messages, params)
