"""Paper mode against the original code's own requests (issue "Paper-exact runs").

The mirror's `golden/usersim/original_requests_PMUL0095.jsonl` holds every model request the
original simulator sent for one MultiWOZ dialogue per behaviour and per PBUS variant, on a
deterministic stub. Here the kit runs the same nine dialogues in paper mode, as the paper ran them
(bare model names, every call on the paper's model), against a server that answers from that
recording. Wherever the random draws agree, each request must be byte-identical to the
original's: messages (role and content), model, temperature and function spec.

Draws that cannot agree between two programs, and what the test allows for each:
- the persona, the tangential act, the style examples and whether an outburst fires (p=0.5) or a
  reply is truncated: requests built from a drawn value may differ only in the lines that carry
  it, and a dialogue is compared request by request only up to its first such draw;
- the goal items' order: the original builds them with `list(set(...))`, so their order (and which
  item the stub's "select 1" removes) follows the process's string-hash seed. Numbered item lists
  and Python lists of strings are compared as sets, and after the first tracker selection only the
  text around the item lists.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from shared.paper.texts import paper_texts
from shared.runner import Runner, RunPlan
from shared.usersim import Behaviors
from tests.support.golden_replay import GoldenReplayServer, canonical, dialogues, function_of, request_key

RECORDING = "usersim/original_requests_PMUL0095.jsonl"
# The recording's order: ours first, then PBUS.
VARIANTS = [(b, False) for b in ("normal", "emotional_acts", "tangential", "fragment_dumping", "unavailable_service")]
VARIANTS += [(b, True) for b in ("tangential", "emotional_acts", "fragment_dumping", "unavailable_service")]
DRAWN = {"tangent", "pbus_topic", "outburst", "style_transfer"}
_ITEM_LISTS = re.compile(r"(?:^\s*\d+\. .*\n?)+|\[(?:'[^'\n]*'(?:, )?)+\]", re.MULTILINE)


KIND_TEXTS = {  # call kind -> the paper texts whose opening identifies it (read from the upstream files)
    "tracker": ["tracker"],
    "judge": ["judge"],
    "rest_provider": ["rest_provider"],
    "ending_check": ["ending_check"],
    "failure_classifier": ["failure_classifier"],
    "outburst": ["outburst.fail", "outburst.delay"],
    "tangent": ["tangent"],
    "complaints": ["complaints"],
    "merge": ["merge"],
    "respond_verifier": ["respond_verifier"],
    "style_transfer": ["style_transfer"],
    "cynical": ["cynical"],
    "unavailable_service": ["unavailable_service"],
    "pbus_topic": ["pbus.topic"],
}


def classify(body: dict[str, Any]) -> str:
    """The call kind of one of the kit's requests, from the opening words of the paper text it was built from."""
    texts = paper_texts("multiwoz")
    messages = body["messages"]
    if messages[0]["role"] == "system":
        return "agent" if messages[0]["content"] == texts.text("agent.system") else "user"
    content = messages[0]["content"]
    for kind, keys in KIND_TEXTS.items():
        for key in keys:
            marker = next(line for line in texts.text(key).splitlines() if len(line) > 30 and "{" not in line)
            if marker in content:
                return kind
    raise AssertionError(f"unclassified request: {content[:80]!r}")


def without_items(body: dict[str, Any]) -> str:
    return request_key({**body, "messages": [{**m, "content": _ITEM_LISTS.sub("<items>", m["content"])} for m in body["messages"]]})


def run_paper_dialogues(url: str, results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-real-key")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    for behaviour, pbus in VARIANTS:
        plan = RunPlan(
            env="multiwoz",
            models=["gpt-4.1-nano"],
            behaviors=[Behaviors.parse(behaviour, pbus=pbus)],
            n=1,
            scenario_ids=["PMUL0095"],
            attempts=1,
            concurrency=1,
            results=results,
            prompts="paper",
        )
        asyncio.run(Runner(plan, echo=lambda line: None).run())


@pytest.fixture(scope="module")
def paired(
    golden: Path, data_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    recording = golden / RECORDING
    with pytest.MonkeyPatch.context() as monkeypatch, GoldenReplayServer(recording) as server:
        monkeypatch.setenv("NCUSIM_LLM_CACHE", "0")
        run_paper_dialogues(server.url, tmp_path_factory.mktemp("paper-results"), monkeypatch)
        ours = dialogues([{"kind": classify(r["body"]), "body": r["body"]} for r in server.requests])
    originals = dialogues(server.rows)
    assert len(ours) == len(originals) == len(VARIANTS)
    return list(zip(ours, originals, strict=True))


FLOW_DRAWS = {"outburst", "style_transfer"}  # their results feed every later request (fired or not, truncated or not)


@pytest.mark.parametrize("index", range(len(VARIANTS)), ids=[("pbus_" if p else "") + b for b, p in VARIANTS])
def test_every_request_is_the_originals_until_a_draw_changes_the_flow(paired: list[Any], index: int) -> None:
    ours, original = paired[index]
    selected = False  # once the stub has picked "item 1", which item that was depends on the hash seed
    compared = 0
    for position in range(min(len(ours), len(original))):
        kind = original[position]["kind"]
        if ours[position]["kind"] != kind:
            # Only a draw may change what happens next: the p=0.5 outburst after a failure verdict.
            assert original[position - 1]["kind"] == "failure_classifier", (position, kind, ours[position]["kind"])
            break
        if kind in FLOW_DRAWS:
            break
        if kind not in DRAWN:  # a drawn request is checked line by line below
            mine, theirs = ours[position]["body"], original[position]["body"]
            if selected:
                assert without_items(mine) == without_items(theirs), (position, kind)
            else:
                assert request_key(mine) == request_key(theirs), (position, kind)
            compared += 1
        selected = selected or kind == "tracker"
    assert compared >= 1


@pytest.mark.parametrize("index", range(len(VARIANTS)), ids=[("pbus_" if p else "") + b for b, p in VARIANTS])
def test_drawn_requests_differ_only_where_the_draw_is(paired: list[Any], index: int) -> None:
    ours, original = paired[index]
    for kind in DRAWN:
        mine = [r["body"] for r in ours if r["kind"] == kind]
        theirs = [r["body"] for r in original if r["kind"] == kind]
        for a, b in zip(mine, theirs, strict=False):
            assert (a["model"], a.get("temperature"), function_of(a)) == (b["model"], b.get("temperature"), function_of(b)), kind
            lines_a, lines_b = a["messages"][-1]["content"].splitlines(), b["messages"][-1]["content"].splitlines()
            if kind == "outburst":  # the dialogue history before it differs too once draws disagreed
                lines_a, lines_b = lines_a[-12:], lines_b[-12:]
            assert len(lines_a) == len(lines_b), kind
            differing = [i for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=True)) if canonical(x) != canonical(y)]
            assert len(differing) <= 3, (kind, [lines_a[i] for i in differing])


def test_every_call_kind_of_the_original_is_covered_and_twinned(paired: list[Any]) -> None:
    """Per call kind: the original's requests, and how many have a byte-identical twin among the
    kit's (printed with -s for the closing note)."""
    counts: dict[str, list[int]] = {}
    for ours, original in paired:
        keys = [request_key(r["body"]) for r in ours]
        for row in original:
            entry = counts.setdefault(row["kind"], [0, 0])
            entry[1] += 1
            key = request_key(row["body"])
            if key in keys:
                keys.remove(key)
                entry[0] += 1
    for kind, (twins, total) in sorted(counts.items()):
        print(f"{kind:20s} {twins:3d}/{total:3d} byte-identical")
    expected = {"user", "agent", "tracker", "judge", "rest_provider", "ending_check", "failure_classifier", "respond_verifier"}
    expected |= {"style_transfer", "tangent", "merge", "unavailable_service", "cynical", "complaints", "pbus_topic"}
    assert set(counts) == expected
    # Kinds whose inputs involve no draw are twinned in every dialogue where the histories agree.
    for kind in ("agent", "user", "judge", "unavailable_service", "respond_verifier", "merge", "complaints", "failure_classifier"):
        assert counts[kind][0] >= counts[kind][1] // 2, (kind, counts[kind])
