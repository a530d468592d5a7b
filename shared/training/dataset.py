"""SFT data: the published training sets or any tree of dialogue folders -> tokenised examples.

A dialogue folder is one the original or `ncusim simulate` wrote: `dial_hist_system_list.json`
(the agent's own message list), `pass_or_fail.txt`, `goal_align_result.json`,
`non_coll_config.json`. Rejection sampling keeps the dialogues that PASS and are goal-aligned
(the original selected them by hand; here it is an explicit, reported step).
Each assistant message becomes one example: the whole preceding prefix as context, the message as
target, the loss on the target only, rendered with the base model's chat template (§8.2).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from shared.data import FileEntry, fetch, load_manifest, make_source, progress_printer
from shared.errors import ConfigError, DataError
from shared.paths import data_path
from shared.scoring import read_aligned
from shared.usersim.config import FLAGS

SETS_ROOT = "multiwoz_env/train_datasets"
PUBLISHED_SETS = ("multiwoz_train_dataset", "multiwoz_train_dataset_528_195", "multiwoz_train_dataset_4010101030")
# The only files of a published folder that training reads (the folders hold ~27 files each).
NEEDED_FILES = ("dial_hist_system_list.json", "pass_or_fail.txt", "goal_align_result.json", "non_coll_config.json")
BEHAVIOR_FLAGS = FLAGS  # the simulator's flags, in its YAML order (result folders are named the same way)
IGNORE_INDEX = -100

Echo = Callable[[str], None]


# --- the published sets: manifest and on-demand fetch -----------------------------------------


@lru_cache(maxsize=1)
def published_manifest() -> dict[str, Any]:
    """`published_sets.json`: distinct blobs (sha256, size) and, per set and folder, one blob index per needed file."""
    raw = json.loads(resources.files("shared.training").joinpath("published_sets.json").read_text())
    if tuple(raw["files"]) != NEEDED_FILES or raw["root"] != SETS_ROOT:
        raise DataError("shared/training/published_sets.json does not match this kit version: reinstall the kit")
    return raw


def reference_folder_names(name: str) -> list[str]:
    """The folders of set `name` that `ncusim data --reference` fetches (a sample of the full set)."""
    prefix = f"{SETS_ROOT}/{name}/"
    return sorted({e.path[len(prefix) :].split("/")[0] for e in load_manifest("multiwoz").reference if e.path.startswith(prefix)})


def published_entries(name: str, reference: bool = False) -> tuple[list[str], list[FileEntry]]:
    """(folder names, verified-file entries) of a published set; `reference`: only its reference folders."""
    if name not in PUBLISHED_SETS:
        raise ConfigError(f"unknown published set {name!r}: choose one of {', '.join(PUBLISHED_SETS)} or give a folder")
    manifest = published_manifest()
    folders: dict[str, list[int]] = manifest["sets"][name]
    names = reference_folder_names(name) if reference else sorted(folders)
    entries = []
    for folder in names:
        for file, blob in zip(NEEDED_FILES, folders[folder], strict=True):
            sha256, size = manifest["blobs"][blob]
            entries.append(FileEntry(f"{SETS_ROOT}/{name}/{folder}/{file}", sha256, int(size)))
    return names, entries


def fetch_published(name: str, reference: bool = False, echo: Echo = print) -> list[Path]:
    """Fetch (or verify) the needed files of a published set through the data layer; return its dialogue folders."""
    names, entries = published_entries(name, reference)
    source = make_source()
    label = f"{name}{' (reference folders)' if reference else ''}"
    try:
        report = fetch(entries, source, on_progress=progress_printer(label))
    except DataError as exc:
        hint = ""
        if not reference and source.description.startswith("mirror"):
            hint = "; a mirror made for the tests holds only the reference folders: add --reference (REFERENCE=1) to train on those"
        raise DataError(f"{exc}{hint}") from None
    finally:
        source.close()
    echo(f"{label}: {len(names)} dialogue folders, {report.summary()} (source: {source.description})")
    return [data_path(f"{SETS_ROOT}/{name}/{folder}") for folder in names]


def find_dialogue_folders(root: Path) -> list[Path]:
    """Every folder under `root` (itself included) with a `dial_hist_system_list.json`, sorted (the original's glob was not)."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder: give one of {', '.join(PUBLISHED_SETS)} or a folder of dialogue folders")
    return sorted({p.parent for p in root.rglob("dial_hist_system_list.json")})


def resolve_data(data: str, reference: bool = False, echo: Echo = print) -> tuple[str, list[Path]]:
    """(description, dialogue folders) for DATA: a published set's name, or a path to a tree of dialogue folders."""
    if data in PUBLISHED_SETS:
        return f"{data}@{published_manifest()['upstream']['commit'][:7]}", fetch_published(data, reference, echo)
    if reference:
        raise ConfigError("--reference applies to the published sets only")
    root = Path(data).expanduser()
    folders = find_dialogue_folders(root)
    if not folders:
        raise ConfigError(f"no dialogue folders (with dial_hist_system_list.json) under {root}")
    return str(root.resolve()), folders


# --- reading and rejection sampling ----------------------------------------------------------


@dataclass(frozen=True)
class Dialogue:
    folder: Path
    messages: tuple[dict[str, str], ...]
    passed: bool
    aligned: bool
    behavior: str

    @property
    def n_examples(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)


def read_messages(folder: Path) -> list[dict[str, str]] | None:
    """The agent's message list, or None when it is not a list of {role, content} dicts (the original skipped those too)."""
    try:
        raw = json.loads((folder / "dial_hist_system_list.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, list) or not raw:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in raw):
        return None
    # Only role and content reach the template (Tau trajectories carry extra keys such as n_reasoning).
    return [{"role": m["role"], "content": m["content"]} for m in raw]


def read_passed(folder: Path) -> bool:
    try:
        return (folder / "pass_or_fail.txt").read_text(encoding="utf-8").strip() == "PASS"
    except OSError:
        return False


def read_behavior(folder: Path) -> str:
    """`normal`, a flag name, or flags joined by `+` (as result folders are named); `pbus:` for the baseline."""
    try:
        config = json.loads((folder / "non_coll_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    if not isinstance(config, dict):
        return "unknown"
    name = "+".join(f for f in BEHAVIOR_FLAGS if config.get(f)) or "normal"
    return f"pbus:{name}" if config.get("is_pbus") else name


@dataclass
class Selection:
    """What rejection sampling kept, with the counts it reports."""

    dialogues: list[Dialogue]
    total: int
    passed: int
    aligned: int
    both: int
    malformed: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    filtered: bool = True

    @property
    def kept(self) -> int:
        return len(self.dialogues)

    @property
    def behaviors(self) -> Counter[str]:
        return Counter(d.behavior for d in self.dialogues)

    @property
    def n_examples(self) -> int:
        return sum(d.n_examples for d in self.dialogues)

    def summary(self) -> str:
        rule = "PASS and goal-aligned" if self.filtered else "no rejection filter"
        mix = ", ".join(f"{name} {count}" for name, count in sorted(self.behaviors.items()))
        bad = f", {len(self.malformed)} unreadable" if self.malformed else ""
        return (
            f"kept {self.kept}/{self.total} dialogues ({rule}; PASS {self.passed}, aligned {self.aligned}, "
            f"both {self.both}{bad}); behaviours: {mix or 'none'}; {self.n_examples} assistant messages"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "aligned": self.aligned,
            "passed_and_aligned": self.both,
            "kept": self.kept,
            "filtered": self.filtered,
            "behaviors": dict(sorted(self.behaviors.items())),
            "examples": self.n_examples,
            "unreadable": [str(p) for p in self.malformed],
            "rejected": [{"folder": str(p), "reason": reason} for p, reason in self.rejected],
        }


def select(folders: Sequence[Path], rejection: bool = True) -> Selection:
    """Read every folder; with `rejection`, keep those that PASS and are goal-aligned."""
    kept: list[Dialogue] = []
    malformed: list[Path] = []
    rejected: list[tuple[Path, str]] = []
    passed = aligned = both = 0
    for folder in folders:
        messages = read_messages(folder)
        if messages is None:
            malformed.append(folder)
            continue
        dialogue = Dialogue(folder, tuple(messages), read_passed(folder), read_aligned(folder) is True, read_behavior(folder))
        passed += dialogue.passed
        aligned += dialogue.aligned
        both += dialogue.passed and dialogue.aligned
        if rejection and not (dialogue.passed and dialogue.aligned):
            reasons = [r for r, bad in (("not PASS", not dialogue.passed), ("not goal-aligned", not dialogue.aligned)) if bad]
            rejected.append((folder, ", ".join(reasons)))
            continue
        kept.append(dialogue)
    return Selection(kept, len(folders), passed, aligned, both, malformed, rejected, rejection)


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
