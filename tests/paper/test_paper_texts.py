"""The table of where the original's prompts live, and their verification (shared/paper/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import DataError
from shared.paper import texts as paper
from shared.paper.extract import Location, LocationError, digest, extract

ROOT = Path(__file__).resolve().parents[2]
# Every model call of the simulator, the judges and the agents, per environment.
CALLS = [
    "user.base", "pbus.persona_lines", "pbus.topic", "pbus.topic_join", "pbus.fragment_line", "tracker", "tracker.spec",
    "rest_provider", "ending_check", "ending_check.spec", "failure_classifier", "failure_classifier.spec", "outburst.acts",
    "outburst.fail", "outburst.delay", "cynical", "tangent", "tangent.spec", "tangent.acts", "complaints", "complaints.spec",
    "merge", "respond_verifier", "respond_verifier.spec", "style_transfer", "style_transfer.spec", "unavailable_service.join",
    "judge", "judge.spec", "judge.first_turn", "anger", "anger.spec",
]  # fmt: skip
ENV_CALLS = {
    "multiwoz": ["unavailable_service", "unavailable_service.spec", "agent.system"],
    "tau": [
        "unavailable_service.airline", "unavailable_service.airline.spec", "unavailable_service.retail",
        "unavailable_service.retail.spec", "user.instruction_label", "agent.react_instruction", "agent.act_instruction",
        "agent.respond_action_name", "agent.respond_action_field_name",
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    paper.forget_loaded()


def test_the_table_covers_every_call_of_both_environments() -> None:
    ids = {loc.id for loc in paper.locations()}
    for env, extra in ENV_CALLS.items():
        assert {f"{env}.{call}" for call in CALLS + extra} <= ids
    assert all(len(loc.sha256) == 64 for loc in paper.locations())
    assert len(ids) == len(paper.locations())  # no id twice


def test_every_location_extracts_from_the_mirror_with_its_hash(mirror: Path) -> None:
    for location in paper.locations():
        value = extract((mirror / "NCUser" / location.file).read_text(encoding="utf-8"), location)
        assert digest(value) == location.sha256, location.id
        if location.kind in ("literal", "format", "replace"):
            assert isinstance(value, str) and value.strip(), location.id
        if location.id.endswith(".spec"):
            assert {"name", "description", "parameters"} <= set(value), location.id


def test_the_data_step_fetches_every_file_paper_mode_reads() -> None:
    from shared.data import load_manifest

    for env in ("multiwoz", "tau"):
        listed = {entry.path for entry in load_manifest(env).files}
        assert set(paper.source_files(env)) <= listed, env


def test_loaded_texts_fill_as_the_original_filled_them(data_home: Path) -> None:
    tau = paper.paper_texts("tau")
    instruction = tau.fstring(
        "agent.react_instruction",
        RESPOND_ACTION_NAME=tau.text("agent.respond_action_name"),
        RESPOND_ACTION_FIELD_NAME=tau.text("agent.respond_action_field_name"),
    )
    # v1 writes the action name into the JSON example unquoted; rebuilt as it is.
    assert '{"name": respond, "arguments": {"content": ' in instruction and "RESPOND_ACTION" not in instruction
    multiwoz = paper.paper_texts("multiwoz")
    assert multiwoz.fstring("unavailable_service.join", oor_list=["a", "b"]).count("['a', 'b']") == 1
    assert multiwoz.text("user.base").count("{user_goal}") == 1
    # Tau's unavailable-service prompts hold literal braces (a JSON tool list): `.replace`, never `.format`.
    assert "[[USER GOAL]]" in tau.text("unavailable_service.airline") and "{" in tau.text("unavailable_service.airline")


def copy_home(data_home: Path, target: Path) -> Path:
    for location in paper.locations():
        source = data_home / location.file.replace("_env/", "_env/data/", 1)
        destination = target / location.file.replace("_env/", "_env/data/", 1)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, destination)
    return target


def test_a_changed_upstream_prompt_fails_with_one_line(data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = copy_home(data_home, tmp_path / "kit")
    monkeypatch.setenv("NCUSIM_HOME", str(home))
    user = home / "multiwoz_env" / "data" / "multiwoz_user.py"
    text = user.read_text(encoding="utf-8")
    start = text.index("dialogue_state_tracker_prompt = ") + len('dialogue_state_tracker_prompt = """')
    user.write_text(text[:start] + "Be brief. " + text[start:], encoding="utf-8")
    with pytest.raises(DataError) as caught:
        paper.paper_texts("multiwoz")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("paper prompt multiwoz.tracker: multiwoz_env/multiwoz_user.py changed")
    assert "ncusim data" in message and "--prompts ncusim" in message


def test_a_missing_or_rewritten_upstream_file_fails_with_one_line(data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = copy_home(data_home, tmp_path / "kit")
    monkeypatch.setenv("NCUSIM_HOME", str(home))
    (home / "tau_env" / "data" / "tau_bench" / "types.py").unlink()
    with pytest.raises(DataError, match=r"^paper prompt tau\.agent\.respond_action_name: .* is missing at .*--prompts ncusim$"):
        paper.paper_texts("tau")
    paper.forget_loaded()
    (home / "tau_env" / "data" / "tau_bench" / "types.py").write_text("RESPOND = 1\n")
    with pytest.raises(DataError, match=r"no longer holds it \(no literal assignment #0 `RESPOND_ACTION_NAME =` in module\)"):
        paper.paper_texts("tau")


def test_extraction_never_runs_the_file() -> None:
    source = 'import os\nos.system("touch /tmp/ran")\nX = """text {a}"""\nY = f"a{B}c"\nZ = {"k": [1, 2]}\n'
    location = Location("t.x", "f.py", "X", "module", "format", "")
    assert extract(source, location) == "text {a}"
    assert extract(source, Location("t.y", "f.py", "Y", "module", "fstring", "")) == (("text", "a"), ("expr", "B"), ("text", "c"))
    assert extract(source, Location("t.z", "f.py", "Z", "module", "value", "")) == {"k": [1, 2]}
    with pytest.raises(LocationError, match="not a literal value"):
        extract("Z = compute()\n", Location("t.z", "f.py", "Z", "module", "value", ""))


def is_prose(line: str) -> bool:
    """Words, not a separator or a protocol example (`API call{'api_name':...}` is the agent's syntax)."""
    return sum(c.isalpha() or c == " " for c in line) >= 0.8 * len(line)


def test_the_kit_holds_none_of_the_originals_sentences(mirror: Path) -> None:
    """The original's prompt texts reach a run only as data: no line of them is in the kit's files."""
    lines: set[str] = set()
    for location in paper.locations():
        value = extract((mirror / "NCUser" / location.file).read_text(encoding="utf-8"), location)
        texts = [value] if isinstance(value, str) else [t for kind, t in value if kind == "text"] if location.kind == "fstring" else []
        for text in texts:
            lines |= {line.strip() for line in text.splitlines() if len(line.strip()) >= 50 and is_prose(line.strip())}
    assert len(lines) > 100
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=False).stdout.split()
    files = [ROOT / f for f in tracked if f.endswith((".py", ".txt", ".md", ".json", ".yaml", ".toml"))] if tracked else []
    if not files:
        files = [p for p in ROOT.rglob("*") if p.suffix in (".py", ".txt", ".md") and ".venv" not in p.parts and "data" not in p.parts]
    found = []
    for path in files:
        if path.is_file() and path.name not in ("data_manifest.json", "locations.json"):
            content = path.read_text(encoding="utf-8", errors="replace")
            found += [(str(path.relative_to(ROOT)), line[:60]) for line in lines if line in content]
    assert not found, found[:5]
    assert sys.version_info >= (3, 11)
