"""Every oracle probe of the original APIs, replayed through our agent-action path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from multiwoz_env import protocol
from tests.fidelity import golden_multiwoz as gm


def check_call(call: dict[str, Any], step: protocol.Step) -> list[str]:
    problems = []
    if "observation_generator_raised" in call:
        # The original crashed the dialogue here; we answer with the format observation (FIDELITY.md).
        if step.observation != protocol.FORMAT_ERROR:
            problems.append(f"expected the format observation, got {step.observation!r}")
        return problems
    if gm.mask(step.observation) != gm.mask(call["observation"]):
        problems.append(f"observation\n  ours:     {gm.mask(step.observation)!r}\n  original: {call['observation']!r}")
    if step.process_reward != call["process_reward"]:
        problems.append(f"process reward {step.process_reward} != {call['process_reward']}")
    if step.counted_api_call != call["counted_as_api_call"]:
        problems.append(f"counted {step.counted_api_call} != {call['counted_as_api_call']}")
    if "result" in call and gm.mask(step.result) != gm.mask(call["result"]):
        problems.append(f"result {gm.mask(step.result)!r} != {call['result']!r}")
    if "raised" in call:
        if step.raised is None:
            problems.append(f"original raised {call['raised']['type']}, ours did not")
        # JSON null: the original's eval raised NameError, our literal reader ValueError.
        elif type(step.raised).__name__ != call["raised"]["type"] and call["raised"]["type"] != "NameError":
            problems.append(f"raised {type(step.raised).__name__} != {call['raised']['type']}")
    return problems


def test_all_probes_agree(golden: Path, reference_folders: Path, data_home: Path, tmp_path: Path) -> None:
    probes = gm.load(golden)["probes"]
    failures: list[str] = []
    calls = 0
    for probe in probes:
        sandbox = gm.sandbox_for(probe["sandbox"], reference_folders, tmp_path / probe["id"])
        for index, call in enumerate(probe["calls"]):
            calls += 1
            step = protocol.interpret("- Thought: probe\n- Action: API call" + call["payload"], sandbox)
            if step.error_call is not None:
                assert sandbox.folder is not None  # sandbox_for gives every sandbox its work folder
                (sandbox.folder / "error_call.txt").write_text(step.error_call)
            failures += [f"{probe['id']}[{index}] {call['payload']}: {p}" for p in check_call(call, step)]
        if gm.mask(gm.reservations_by_file(sandbox)) != probe["reservations_after"]:
            failures.append(f"{probe['id']}: reservations {gm.reservations_by_file(sandbox)} != {probe['reservations_after']}")
        for name, content in (probe.get("side_files") or {}).items():
            written = sandbox.folder / name
            if not written.is_file() or written.read_text() != content:
                failures.append(f"{probe['id']}: side file {name} differs")
    assert calls == 226 and len(probes) == 34
    assert failures == [], "\n".join(failures)
