"""Dataset building: rejection sampling counts, examples per assistant message, label masking, truncation, fetching."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shared import data
from shared.errors import ConfigError, DataError
from shared.training import dataset as ds

REFERENCE_COUNTS = {  # folders and assistant messages of the reference folders (all PASS and aligned)
    "multiwoz_train_dataset": (11, 261),
    "multiwoz_train_dataset_528_195": (35, 837),
    "multiwoz_train_dataset_4010101030": (34, 808),
}
SHORT = [
    {"role": "system", "content": "You are a booking agent. Use the APIs."},
    {"role": "user", "content": " I need a cheap hotel in the north."},
    {"role": "assistant", "content": "- Thought: search first.\n- Action: API call{'api_name': 'find_hotel', 'input_parameters': {}}"},
    {"role": "system", "content": "Observation: {'success': True, 'result': []}"},
    {"role": "assistant", "content": '- Thought: none found.\n- Action: Talk("Sorry, nothing matches. Any other area?")'},
]


def by_hand(folder: Path) -> tuple[bool, bool, int]:
    """PASS, aligned and assistant-message count, read directly from the files."""
    passed = (folder / "pass_or_fail.txt").read_text().strip() == "PASS"
    aligned = json.loads((folder / "goal_align_result.json").read_text())["result"] is True
    messages = json.loads((folder / "dial_hist_system_list.json").read_text())
    return passed, aligned, sum(m["role"] == "assistant" for m in messages)


def target_ids(tokenizer: Any, content: str) -> list[int]:
    """The target under SmolLM2's ChatML template: the message, `<|im_end|>` and the newline after it."""
    return list(tokenizer(content + "<|im_end|>\n", add_special_tokens=False)["input_ids"])


# --- rejection sampling ---------------------------------------------------------------------------


def test_rejection_counts_on_a_crafted_tree(crafted_tree: Path) -> None:
    folders = ds.find_dialogue_folders(crafted_tree)
    relative = [f.relative_to(crafted_tree).as_posix() for f in folders]
    assert relative == sorted(relative) and len(relative) == 5
    assert relative[:3] == ["bad/MUL0008.json_0", "bad/MUL0022.json_0", "bad/MUL0601.json_0"]
    assert relative[3] == "good/MUL0001.json_0" and relative[4].startswith("good/deeper/")  # found recursively
    readable = [f for f in folders if f.name != "MUL0601.json_0"]
    hand = {f: by_hand(f) for f in readable}
    selection = ds.select(folders)
    assert selection.total == 5
    assert [p.name for p in selection.malformed] == ["MUL0601.json_0"]
    assert selection.passed == sum(p for p, _, _ in hand.values()) == 3
    assert selection.aligned == sum(a for _, a, _ in hand.values()) == 3
    assert selection.both == selection.kept == sum(p and a for p, a, _ in hand.values()) == 2
    assert {d.folder.name for d in selection.dialogues} == {f.name for f, (p, a, _) in hand.items() if p and a}
    assert dict((p.name, r) for p, r in selection.rejected) == {"MUL0008.json_0": "not PASS", "MUL0022.json_0": "not goal-aligned"}
    assert selection.n_examples == sum(n for p, a, n in hand.values() if p and a)
    assert selection.behaviors == {"normal": 1, "tangential": 1}
    assert "kept 2/5 dialogues" in selection.summary() and "1 unreadable" in selection.summary()
    unfiltered = ds.select(folders, rejection=False)
    assert unfiltered.kept == 4 and not unfiltered.rejected
    assert unfiltered.n_examples == sum(n for _, _, n in hand.values())


def test_reference_folders_all_pass_and_align(reference_folders: Path) -> None:
    for name, (folders, examples) in REFERENCE_COUNTS.items():
        found = ds.find_dialogue_folders(reference_folders / name)
        selection = ds.select(found)
        assert (selection.total, selection.kept, selection.n_examples) == (folders, folders, examples), name
        assert selection.n_examples == sum(by_hand(f)[2] for f in found)
    mixed = ds.select(ds.find_dialogue_folders(reference_folders / "multiwoz_train_dataset_528_195"))
    assert set(mixed.behaviors) == {"normal", "unavailable_service", "tangential", "emotional_acts", "fragment_dumping"}


def test_resolve_data_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        ds.resolve_data(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no dialogue folders"):
        ds.resolve_data(str(tmp_path))
    with pytest.raises(ConfigError, match="published sets only"):
        ds.resolve_data(str(tmp_path), reference=True)


# --- the published sets ---------------------------------------------------------------------------


def test_published_manifest_covers_the_full_sets_and_agrees_with_the_reference_files() -> None:
    manifest = ds.published_manifest()
    assert manifest["upstream"]["commit"] == data.UPSTREAM_COMMIT
    for name in ds.published_set_names():
        assert len(manifest["sets"][name]) == 1308
    reference = {e.path: e for e in data.load_manifest("multiwoz").reference}
    checked = 0
    for name in ds.published_set_names():
        folders, entries = ds.published_entries(name, reference=True)
        assert len(folders) == REFERENCE_COUNTS[name][0] and len(entries) == 4 * len(folders)
        for entry in entries:
            assert (entry.sha256, entry.size) == (reference[entry.path].sha256, reference[entry.path].size)
            checked += 1
    assert checked == 4 * 80


def test_fetch_reference_folders_through_the_data_layer(kit_home: Path, mirror: Path) -> None:
    lines: list[str] = []
    folders = ds.fetch_published("multiwoz_train_dataset", reference=True, echo=lines.append)
    assert len(folders) == 11 and all(f.is_relative_to(kit_home) for f in folders)
    assert sorted(p.name for p in folders[0].iterdir()) == sorted(ds.NEEDED_FILES)
    assert "44 files verified: 44 fetched" in lines[0]
    ds.fetch_published("multiwoz_train_dataset", reference=True, echo=lines.append)
    assert "0 fetched" in lines[1] and "44 already present" in lines[1]
    description, resolved = ds.resolve_data("multiwoz_train_dataset", reference=True, echo=lines.append)
    assert resolved == folders and description.startswith("multiwoz_train_dataset@7e24bba")


def test_full_set_from_a_test_mirror_fails_with_a_hint(kit_home: Path, mirror: Path) -> None:
    with pytest.raises(DataError, match=r"not in the mirror .*--reference"):
        ds.fetch_published("multiwoz_train_dataset_4010101030")


# --- examples, masking and truncation ---------------------------------------------------------------


def test_one_example_per_assistant_message() -> None:
    examples = ds.split_examples(SHORT)
    assert [len(prefix) for prefix, _ in examples] == [2, 4]
    assert [target["content"] for _, target in examples] == [SHORT[2]["content"], SHORT[4]["content"]]
    assert examples[1][0][2] == SHORT[2]  # the earlier assistant message is context


def test_labels_cover_exactly_the_target_message(tokenizer: Any) -> None:
    for index, (prefix, target) in enumerate(ds.split_examples(SHORT)):
        example = ds.tokenize_example(tokenizer, prefix, target, max_length=4096)
        expected = target_ids(tokenizer, target["content"])
        n = len(expected)
        assert example.cut == 0 and len(example.labels) == len(example.input_ids)
        assert example.target_tokens == n, index
        assert example.labels[-n:] == expected == example.input_ids[-n:]
        assert set(example.labels[:-n]) == {ds.IGNORE_INDEX}
        rendered = tokenizer.apply_chat_template([*prefix, target], tokenize=False)
        assert example.input_ids == list(tokenizer(rendered, add_special_tokens=False)["input_ids"])


def test_masking_on_a_reference_dialogue(tokenizer: Any, reference_folders: Path) -> None:
    messages = ds.read_messages(reference_folders / "multiwoz_train_dataset" / "MUL0203.json_0")
    assert messages is not None
    examples = ds.tokenize_dialogue(tokenizer, messages, max_length=100_000)
    targets = [t for _, t in ds.split_examples(messages)]
    assert len(examples) == len(targets) > 5
    for example, target in zip(examples, targets, strict=True):
        expected = target_ids(tokenizer, target["content"])
        assert example.target_tokens == len(expected)
        assert [x for x in example.labels if x != ds.IGNORE_INDEX] == expected
    # The segment cache gives exactly what encoding each example whole gives.
    slow = [ds.tokenize_example(tokenizer, p, t, 100_000) for p, t in ds.split_examples(messages)[:4]]
    assert examples[:4] == slow


def test_front_truncation_keeps_the_end_and_the_whole_target(tokenizer: Any, reference_folders: Path) -> None:
    messages = ds.read_messages(reference_folders / "multiwoz_train_dataset" / "MUL0203.json_0")
    assert messages is not None
    prefix, target = ds.split_examples(messages)[3]
    full = ds.tokenize_example(tokenizer, prefix, target, max_length=100_000)
    assert len(full.input_ids) > 300
    cut = ds.tokenize_example(tokenizer, prefix, target, max_length=256)
    assert len(cut.input_ids) == 256 and cut.cut == len(full.input_ids) - 256
    assert cut.input_ids == full.input_ids[-256:] and cut.labels == full.labels[-256:]
    assert cut.target_tokens == full.target_tokens
    system = list(tokenizer(tokenizer.apply_chat_template(prefix[:1], tokenize=False), add_special_tokens=False)["input_ids"])
    budget = len(system) + full.target_tokens + 64
    assert len(full.input_ids) > budget
    kept = ds.tokenize_example(tokenizer, prefix, target, max_length=budget, truncation=ds.Truncation.keep_system)
    assert len(kept.input_ids) == budget and kept.input_ids[: len(system)] == system
    assert kept.input_ids[len(system) :] == full.input_ids[-(budget - len(system)) :]
    assert kept.target_tokens == full.target_tokens and kept.cut == len(full.input_ids) - budget
    # A target longer than max_length stays whole (the original's rule): all context goes, nothing of the target.
    tiny = ds.tokenize_example(tokenizer, prefix, target, max_length=full.target_tokens - 1)
    assert tiny.labels == full.labels[-full.target_tokens :] and tiny.target_tokens == full.target_tokens


def test_a_template_that_breaks_the_prefix_property_is_refused(tokenizer: Any) -> None:
    odd = copy.deepcopy(tokenizer)
    odd.chat_template = "{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['content'] }}\n{% endfor %}"
    prefix, target = ds.split_examples(SHORT)[0]
    with pytest.raises(DataError, match="token prefix"):
        ds.tokenize_example(odd, prefix, target)


def test_build_dataset_rows_and_stats(tokenizer: Any, crafted_tree: Path) -> None:
    selection = ds.select(ds.find_dialogue_folders(crafted_tree))
    dataset, stats = ds.build_dataset(selection.dialogues, tokenizer, max_length=512)
    assert dataset.column_names == ["input_ids", "labels"]
    assert len(dataset) == stats.examples == selection.n_examples
    lengths = [len(ids) for ids in dataset["input_ids"]]
    assert stats.max_length == max(lengths) and stats.truncated == sum(n == 512 for n in lengths) > 0
    assert stats.target_tokens == sum(sum(x != ds.IGNORE_INDEX for x in labels) for labels in dataset["labels"])
    first = selection.dialogues[0]
    prefix, target = ds.split_examples(first.messages)[0]
    assert dataset[0]["labels"] == ds.tokenize_example(tokenizer, prefix, target, max_length=512).labels
