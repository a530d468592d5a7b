"""Examples and tokenisation: each assistant message a target after its whole prefix, rendered
with the base model's chat template, the loss on the target only."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from shared.errors import ConfigError, DataError
from shared.training.selection import Dialogue, read_messages

IGNORE_INDEX = -100


# --- examples and tokenisation ----------------------------------------------------------------


def split_examples(messages: Sequence[dict[str, str]]) -> list[tuple[list[dict[str, str]], dict[str, str]]]:
    """One (prefix, target) per assistant message; earlier assistant messages are context only."""
    return [(list(messages[:i]), dict(m)) for i, m in enumerate(messages) if m["role"] == "assistant"]


class Truncation(StrEnum):
    front = "front"  # the original: drop the oldest tokens (system prompt first), keep the target whole
    keep_system = "keep-system"  # keep the leading system message, drop the oldest turns after it


@dataclass(frozen=True)
class TokenizedExample:
    input_ids: list[int]
    labels: list[int]
    cut: int  # context tokens removed by truncation

    @property
    def target_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


Encoder = Callable[[str], list[int]]


def render(tokenizer: Any, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=add_generation_prompt)


def exact_encoder(tokenizer: Any) -> Encoder:
    """What `apply_chat_template(tokenize=True)` does after rendering: the template writes its own special tokens."""
    return lambda text: list(tokenizer(text, add_special_tokens=False)["input_ids"])


class SegmentEncoder:
    """Encodes rendered chats piece by piece between added tokens, caching each piece.

    A fast tokenizer splits the text on its added tokens before anything else, so encoding the
    pieces separately gives the same ids; the examples of one dialogue share almost every piece,
    which makes this ~20x faster than encoding each example whole. `tokenize_dialogue` checks the
    equality on the whole dialogue and falls back to the exact encoder when it does not hold.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.exact = exact_encoder(tokenizer)
        added = sorted(tokenizer.get_added_vocab().items(), key=lambda item: -len(item[0]))
        self.ids = dict(added)
        self.pattern = re.compile("(" + "|".join(re.escape(token) for token, _ in added) + ")") if added else None
        self.cache: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:
        if self.pattern is None:
            return self.exact(text)
        out: list[int] = []
        for i, piece in enumerate(self.pattern.split(text)):
            if i % 2:  # a captured added token
                out.append(self.ids[piece])
            elif piece:
                if piece not in self.cache:
                    self.cache[piece] = self.exact(piece)
                out += self.cache[piece]
        return out


def tokenize_example(
    tokenizer: Any,
    prefix: Sequence[dict[str, str]],
    target: dict[str, str],
    max_length: int = 4096,
    truncation: Truncation = Truncation.front,
    encode: Encoder | None = None,
) -> TokenizedExample:
    """`labels` = the ids of template(prefix + [target]) with the template(prefix, generation prompt) part set to -100."""
    encode = encode or exact_encoder(tokenizer)
    ctx = encode(render(tokenizer, prefix, add_generation_prompt=True))
    full = encode(render(tokenizer, [*prefix, target], add_generation_prompt=False))
    # The original assumed this without checking; a template that rewrites earlier turns would shift the mask.
    if full[: len(ctx)] != ctx or len(full) == len(ctx):
        raise DataError(
            "the chat template does not render the context as a token prefix of context + target "
            f"(context {len(ctx)} tokens, full {len(full)}): this base model's template cannot be used for per-message SFT"
        )
    labels = [IGNORE_INDEX] * len(ctx) + full[len(ctx) :]
    overflow = len(full) - max_length
    if overflow <= 0:
        return TokenizedExample(full, labels, 0)
    keep = 0
    if truncation is Truncation.keep_system and prefix and prefix[0]["role"] == "system":
        system = encode(render(tokenizer, prefix[:1], add_generation_prompt=False))
        # Kept only when the template renders it as a token prefix (it does for a leading system message).
        keep = len(system) if full[: len(system)] == system and len(system) < len(ctx) else 0
    # Only context is cut: a target longer than max_length stays whole (the original's rule; never happens at 4096).
    cut = min(overflow, len(ctx) - keep)
    return TokenizedExample(full[:keep] + full[keep + cut :], labels[:keep] + labels[keep + cut :], cut)


def tokenize_dialogue(
    tokenizer: Any, messages: Sequence[dict[str, str]], max_length: int = 4096, truncation: Truncation = Truncation.front
) -> list[TokenizedExample]:
    """Every example of one dialogue, encoded through the segment cache when it is exact for this dialogue."""
    segments = SegmentEncoder(tokenizer)
    whole = render(tokenizer, messages, add_generation_prompt=False)
    encode: Encoder = segments if segments(whole) == segments.exact(whole) else segments.exact
    return [tokenize_example(tokenizer, prefix, target, max_length, truncation, encode) for prefix, target in split_examples(messages)]


def _tokenize_batch(batch: dict[str, list[Any]], tokenizer: Any, max_length: int, truncation: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"input_ids": [], "labels": [], "cut": [], "length": [], "target": []}
    for folder in batch["folder"]:
        messages = read_messages(Path(folder))
        if messages is None:
            raise DataError(f"{folder}/dial_hist_system_list.json became unreadable while building examples")
        try:
            examples = tokenize_dialogue(tokenizer, messages, max_length, Truncation(truncation))
        except DataError as exc:
            raise DataError(f"{folder}: {exc}") from None
        for example in examples:
            out["input_ids"].append(example.input_ids)
            out["labels"].append(example.labels)
            out["cut"].append(example.cut)
            out["length"].append(len(example.input_ids))
            out["target"].append(example.target_tokens)
    return out


@dataclass(frozen=True)
class ExampleStats:
    examples: int
    truncated: int
    max_length: int
    mean_length: float
    target_tokens: int

    def summary(self) -> str:
        return (
            f"{self.examples} examples ({self.truncated} truncated at max_length), "
            f"mean {self.mean_length:.0f} tokens, max {self.max_length}, {self.target_tokens} target tokens"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_dataset(
    dialogues: Sequence[Dialogue],
    tokenizer: Any,
    max_length: int = 4096,
    truncation: Truncation = Truncation.front,
    num_proc: int | None = None,
) -> tuple[Any, ExampleStats]:
    """A `datasets.Dataset` with `input_ids` and `labels` (one row per assistant message, in dialogue order), and its statistics."""
    from datasets import Dataset, Features, Sequence, Value
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar

    if not any(d.n_examples for d in dialogues):
        raise ConfigError("the selected dialogues have no assistant messages: nothing to train on")
    features = Features(
        {
            "input_ids": Sequence(Value("int32")),
            "labels": Sequence(Value("int32")),
            **{name: Value("int32") for name in ("cut", "length", "target")},
        }
    )
    small = len(dialogues) < 64
    if small:
        disable_progress_bar()
    try:
        # Tokenised eagerly (the original did it lazily per step) so that errors surface before training starts.
        dataset = Dataset.from_dict({"folder": [str(d.folder) for d in dialogues]}).map(
            _tokenize_batch,
            batched=True,
            batch_size=1,
            fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "truncation": str(truncation)},
            remove_columns=["folder"],
            features=features,
            num_proc=None if small or not num_proc or num_proc < 2 else num_proc,
            desc="tokenising dialogues",
        )
    finally:
        if small:
            enable_progress_bar()
    lengths = list(dataset["length"])
    stats = ExampleStats(
        examples=len(dataset),
        truncated=sum(c > 0 for c in dataset["cut"]),
        max_length=max(lengths),
        mean_length=sum(lengths) / len(lengths),
        target_tokens=sum(dataset["target"]),
    )
    return dataset.remove_columns(["cut", "length", "target"]), stats
