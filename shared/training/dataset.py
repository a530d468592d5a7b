"""SFT data: the published training sets or any tree of dialogue folders -> tokenised examples.

A dialogue folder is one the original or `ncusim simulate` wrote: `dial_hist_system_list.json`
(the agent's own message list), `pass_or_fail.txt`, `goal_align_result.json`,
`non_coll_config.json`. Rejection sampling keeps the dialogues that PASS and are goal-aligned
(the original selected them by hand; here it is an explicit, reported step).
Each assistant message becomes one example: the whole preceding prefix as context, the message as
target, the loss on the target only, rendered with the base model's chat template (§8.2).

The work is in three modules, all of it re-exported here: `published_sets` (the published sets,
their fetch, finding dialogue folders), `selection` (reading folders, rejection sampling) and
`tokenization` (examples, chat templates, the dataset).
"""

from __future__ import annotations

from shared.training.published_sets import (
    NEEDED_FILES,
    Echo,
    fetch_published,
    find_dialogue_folders,
    published_entries,
    published_manifest,
    published_set_names,
    reference_folder_names,
    resolve_data,
    sets_root,
)
from shared.training.selection import (
    BEHAVIOR_FLAGS,
    Dialogue,
    Selection,
    read_behavior,
    read_messages,
    read_passed,
    select,
)
from shared.training.tokenization import (
    IGNORE_INDEX,
    Encoder,
    ExampleStats,
    SegmentEncoder,
    TokenizedExample,
    Truncation,
    build_dataset,
    exact_encoder,
    render,
    split_examples,
    tokenize_dialogue,
    tokenize_example,
)

__all__ = [
    "BEHAVIOR_FLAGS",
    "Dialogue",
    "Echo",
    "Encoder",
    "ExampleStats",
    "IGNORE_INDEX",
    "NEEDED_FILES",
    "SegmentEncoder",
    "Selection",
    "TokenizedExample",
    "Truncation",
    "build_dataset",
    "exact_encoder",
    "fetch_published",
    "find_dialogue_folders",
    "published_entries",
    "published_manifest",
    "published_set_names",
    "sets_root",
    "read_behavior",
    "read_messages",
    "read_passed",
    "reference_folder_names",
    "render",
    "resolve_data",
    "select",
    "split_examples",
    "tokenize_dialogue",
    "tokenize_example",
]
