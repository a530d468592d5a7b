"""Runs: models x behaviours x scenarios x N dialogues, concurrent, resumable, regenerated until aligned.

Layout: `<results>/<env>/[train/]<ours|pbus>/<model>/<behaviour>/<scenario>_<n>/`. A dialogue is
complete when it has both `grading_result.json` and `goal_align_result.json` (the original's rule).
A rerun of the same command skips complete dialogues, wipes and reruns incomplete ones, and
regenerates unaligned ones while they have attempts left (attempts are recorded per dialogue in
`regeneration_log.json`, so a rerun continues the count instead of restarting it). Every dialogue
has its own seed (recorded in `run_meta.json`), derived from the run seed, its coordinates and its
attempt number, so reruns are reproducible. After each pass the score block of each experiment is
appended to its `score_list` file, as the original did.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared import environment
from shared.conversation import AgentSettings, converse, judge_or_unaligned
from shared.cost_estimate import CHARS_PER_TOKEN, Estimate, count_plan, estimate, profile
from shared.environment import Environment, Scenario
from shared.errors import ConfigError, NcusimError
from shared.files import read_json, write_json_atomic
from shared.llm import resolve
from shared.llm.base import ChatModel, close_models
from shared.llm.keys import public_spec, redact
from shared.llm.preflight import check_endpoints
from shared.llm.usage import ACTIVE_LEDGER, UsageLedger
from shared.paper.user_prompts import PaperPrompts
from shared.paths import results_dir
from shared.scoring import DialogueScore, ScoreBlock, aggregate, append_score_block, read_aligned, score_format
from shared.state_files import RegenerationLogFile, RunMeta, RunRecord, read_run_level, read_valid
from shared.usersim import Behaviors, ModelSet, UserSimulator
from shared.usersim.models import Routing, route
from shared.usersim.prompt_sets import PROMPT_SETS, PromptSet
from shared.versions import run_versions
from shared.writer_lock import WriterLock

LOCAL_PREFIXES = ("local", "hf:", "scripted:")
MAX_N = 1000  # simulations per scenario (the paper: 4)
MAX_DIALOGUES = 1_000_000  # per plan, checked before the plan is built


@dataclass
class RunPlan:
    env: str
    models: list[str]
    behaviors: list[Behaviors]
    n: int = 4
    subset: int = 0
    split: str = "test"
    scenario_ids: list[str] | None = None
    limit: int | None = None
    # None: the paper's model for that tier of calls (shared/usersim/models.py, `route`).
    user_model: str | None = None
    helper_model: str | None = None
    judge_model: str | None = None
    helper_models: dict[str, str] = field(default_factory=dict)  # per call, over everything else
    attempts: int | None = None  # regeneration attempts per dialogue (MultiWOZ 5, Tau 10)
    concurrency: int = 32
    seed: int = 0
    results: Path | None = None
    agent_temperature: float | None = None
    agent_max_tokens: int | None = None
    user_max_tokens: int | None = None
    env_options: dict[str, Any] = field(default_factory=dict)
    prompts: str = "paper"  # paper: the original's texts (verified upstream files); ncusim: the kit's own wording

    def __post_init__(self) -> None:
        # Specs are written into run.json, run_meta.json, usage.json and folder names: without URL
        # credentials (the resolver finds them again by the public spec).
        self.models = [public_spec(m) for m in self.models]
        self.user_model, self.helper_model, self.judge_model = (
            public_spec(m) if m else m for m in (self.user_model, self.helper_model, self.judge_model)
        )
        self.helper_models = {call: public_spec(m) for call, m in self.helper_models.items()}

    def validate(self) -> None:
        if not self.models:
            raise ConfigError("no agent model given: MODELS=... (e.g. gpt-4.1-nano, or local)")
        if not self.behaviors:
            raise ConfigError("no behaviour given: BEHAVIORS=normal,tangential,...")
        if not 1 <= self.n <= MAX_N:
            raise ConfigError(f"N must be between 1 and {MAX_N:,} simulations per scenario, not {self.n:,}")
        if self.subset < 0:
            raise ConfigError(f"SUBSET must be 0 or a positive per-shard cap, not {self.subset}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"LIMIT must be at least 1, not {self.limit}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.prompts not in PROMPT_SETS:
            raise ConfigError(f"unknown prompt set {self.prompts!r}: choose {' or '.join(PROMPT_SETS)}")
        if self.attempts is not None and self.attempts < 1:
            raise ConfigError(f"attempts must be at least 1, not {self.attempts}")

    @property
    def max_attempts(self) -> int:
        return self.attempts or environment.get(self.env).default_attempts

    @property
    def root(self) -> Path:
        base = (self.results or results_dir()) / self.env
        return base / "train" if self.split == "train" else base


def make_results_folder(folder: Path) -> None:
    """mkdir -p, or one clear line when the results folder cannot be made (a file in the way, no permission)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the results folder {folder}: {exc.strerror}: give a writable folder with --results (RESULTS=) or NCUSIM_RESULTS"
        ) from None


_UNSAFE_IN_NAME = re.compile(r"[^\w.+@=-]")


def model_dir(spec: str) -> str:
    """A folder name for a model spec: the model's name, provider prefixes dropped, '/' kept apart."""
    name = spec.split("#", 1)[1] if "#" in spec else spec
    if name.startswith(("hf:", "scripted:")) or name.startswith("/"):
        name = Path(name.split(":", 1)[-1].rstrip("/")).name  # a local path: its last component
    for prefix in ("openai:", "openrouter:", "vllm:"):
        name = name.removeprefix(prefix)
    name = name.strip("/").replace("/", "__").replace(":", "_")
    # One safe path part: no `.`/`..`, no hidden name, no separators or control characters.
    name = _UNSAFE_IN_NAME.sub("_", name)
    if not name or set(name) == {"."}:
        return "model"
    return "_" + name if name.startswith(".") else name


@dataclass(frozen=True)
class DialogueSpec:
    model: str
    behavior: Behaviors
    scenario: Scenario
    n: int
    folder: Path

    @property
    def experiment(self) -> Path:
        return self.folder.parent


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(NcusimError):
    """The results folder's file system is full: the run stops, what is complete stays."""


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def seed_for(plan: RunPlan, spec: DialogueSpec, attempt: int) -> int:
    parts = (plan.seed, plan.env, plan.split, spec.model, spec.behavior.name, spec.behavior.is_pbus, spec.scenario.id, spec.n, attempt)
    key = "|".join(str(p) for p in parts)
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)


def is_complete(folder: Path, grade_file: str = "grading_result.json") -> bool:
    """Graded and judged, by the markers alone: the original's rule (MultiWOZ grades to
    grading_result.json, Tau to eval_result.json). `completed` also checks what they hold."""
    return (folder / grade_file).is_file() and (folder / "goal_align_result.json").is_file()


def completed(env: Environment, folder: Path) -> bool:
    """Complete and believable: run_meta.json, the grade and the judge's verdict are all present and
    of the shape the kit writes. A folder that fails this is redone by the next run, so a grade cut
    short, a verdict of `"false"` or a directory in a marker's place never counts as a result."""
    if not is_complete(folder, env.grade_file) or read_valid(RunMeta, folder / "run_meta.json") is None:
        return False
    if read_aligned(folder) is None:
        return False
    try:
        env.outcome(env.read_grade(folder))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


class RegenerationLog:
    """Per experiment: every attempt of every dialogue (seed, alignment, pass, error)."""

    def __init__(self, experiment: Path) -> None:
        self.path = experiment / "regeneration_log.json"
        parsed = read_run_level(RegenerationLogFile, self.path, "a regeneration log")
        self.entries: dict[str, list[dict[str, Any]]] = (
            {name: [e.model_dump() for e in entries] for name, entries in parsed.root.items()} if parsed else {}
        )

    def completed_attempts(self, name: str) -> int:
        return sum(1 for e in self.entries.get(name, []) if e.get("aligned") is not None)

    def add(self, name: str, entry: dict[str, Any]) -> None:
        self.entries.setdefault(name, []).append(entry)

    def save(self) -> None:
        write_json_atomic(self.path, self.entries)

    def first_attempt_aligned(self) -> tuple[int, int]:
        """(aligned at their first attempt, dialogues with a first attempt): the IGA numerator and denominator."""
        firsts = [next((e for e in entries if e.get("aligned") is not None), None) for entries in self.entries.values()]
        done = [f for f in firsts if f is not None]
        return sum(1 for f in done if f["aligned"]), len(done)


@dataclass
class ExperimentProgress:
    name: str
    total: int
    done: int = 0
    failed: int = 0
    ran: int = 0
    started: float = field(default_factory=time.monotonic)
    ledger: UsageLedger = field(default_factory=UsageLedger)
    active: list[UsageLedger] = field(default_factory=list)  # dialogues in flight, counted live
    failures: dict[str, str] = field(default_factory=dict)  # dialogue folder name -> why its attempt failed

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = f"{elapsed / self.ran * left / 60:.1f}m" if self.ran and left else "-"
        live = UsageLedger()
        live.merge(self.ledger)
        for ledger in list(self.active):
            live.merge(ledger)
        roles = live.by_role()
        cost = " ".join(f"{r} ${u.cost_usd:.4f}/{(u.prompt_tokens + u.completion_tokens) / 1000:.1f}kt" for r, u in sorted(roles.items()))
        failed = f" failed {self.failed}" if self.failed else ""
        return f"{self.name}: {self.done}/{self.total} done{failed}, ETA {eta}  {cost}"


class Runner:
    def __init__(self, plan: RunPlan, echo: Callable[[str], None] = print) -> None:
        plan.validate()
        self.plan = plan
        self.echo = echo
        self.env: Environment = environment.get(plan.env, **{"prompts": plan.prompts, **plan.env_options})
        self._prompt_set: PromptSet | None = None
        self._writer = contextlib.ExitStack()
        self.ledger = UsageLedger()
        self._models: dict[str, ChatModel] = {}
        self.logs: dict[Path, RegenerationLog] = {}
        self.progress: dict[Path, ExperimentProgress] = {}
        self.passes = 0
        self.full: OSError | None = None  # a disk-full error met while recording a dialogue
        self.max_attempts = plan.attempts or self.env.default_attempts

    # --- plan ---------------------------------------------------------------------------

    def scenarios(self) -> list[Scenario]:
        chosen = self.env.scenarios(self.plan.split, self.plan.subset, self.plan.scenario_ids)
        return chosen[: self.plan.limit] if self.plan.limit else chosen

    def dialogues(self) -> list[DialogueSpec]:
        plan = self.plan
        scenarios = self.scenarios()
        total = len(plan.models) * len(plan.behaviors) * len(scenarios) * plan.n
        if total > MAX_DIALOGUES:  # counted before a single spec is made
            raise ConfigError(f"the plan has {total:,} dialogues; the limit is {MAX_DIALOGUES:,}: lower N, SUBSET/LIMIT or the lists")
        out = []
        for model in plan.models:
            for behavior in plan.behaviors:
                experiment = plan.root / ("pbus" if behavior.is_pbus else "ours") / model_dir(model) / behavior.name
                for scenario in scenarios:
                    for n in range(plan.n):
                        out.append(DialogueSpec(model, behavior, scenario, n, experiment / f"{scenario.id}_{n}"))
        return out

    def model(self, spec: str) -> ChatModel:
        """One model object per spec for the whole run (a local model loads its weights once)."""
        if spec not in self._models:
            self._models[spec] = resolve(spec)
        return self._models[spec]

    def routing(self) -> Routing:
        plan = self.plan
        return route(plan.user_model, plan.helper_model, plan.judge_model, plan.helper_models)

    def user_models(self) -> ModelSet:
        plan = self.plan
        models = ModelSet.from_routing(self.routing())
        for call, spec in models.specs.items():
            models.models[call] = self.model(spec)
        models.max_tokens = plan.user_max_tokens
        if models.max_tokens is None and models.specs["user"].startswith(LOCAL_PREFIXES):
            models.max_tokens = 80  # keep a small local user quick; API models get no cap, as in the paper
        return models

    def agent_settings(self, spec: str) -> AgentSettings:
        temperature = self.plan.agent_temperature
        if temperature is None and getattr(self.model(spec), "backend", "") == "openai":
            temperature = 1.0  # the paper's OpenAI agents sampled at T=1
        max_tokens = self.plan.agent_max_tokens
        if max_tokens is None and spec.startswith(LOCAL_PREFIXES):
            max_tokens = 160
        return AgentSettings(temperature=temperature, max_tokens=max_tokens)

    # --- one dialogue -------------------------------------------------------------------

    async def run_one(self, spec: DialogueSpec, user_models: ModelSet, limit: asyncio.Semaphore) -> None:
        log = self.logs[spec.experiment]
        attempt = log.completed_attempts(spec.folder.name) + 1
        seed = seed_for(self.plan, spec, attempt)
        progress = self.progress[spec.experiment]
        async with limit:
            ledger = UsageLedger()
            token = ACTIVE_LEDGER.set(ledger)
            progress.active.append(ledger)
            entry: dict[str, Any] = {"attempt": attempt, "seed": seed, "pass": self.passes, "aligned": None}
            if self.damaged(spec):
                entry["redo_of_damaged"] = True  # its files were there but did not validate: not a regeneration
            usage_written = False
            try:
                # Setup and grading are file work (and Tau's grade hashes a whole DB): in a worker
                # thread the event loop keeps serving the other dialogues' replies meanwhile.
                episode, user = await asyncio.to_thread(self.open_dialogue, spec, seed, attempt, user_models)
                record = await converse(self.env, episode, user, self.model(spec.model), spec.folder, self.agent_settings(spec.model))
                judge_model, _ = user_models.get("judge")
                alignment = await judge_or_unaligned(self.env, user, record, judge_model, spec.folder.name)
                # Every model call is done: usage.json goes in before the grade file, whose arrival
                # makes the folder complete, so a kill can never leave a complete folder without it.
                write_json_atomic(spec.folder / "usage.json", ledger.to_dict())
                usage_written = True
                grade = await asyncio.to_thread(self.env.grade, spec.folder)
                passed, _ = self.env.outcome(grade)
                entry.update(aligned=bool(alignment["result"]), passed=passed, ended_by=record.ended_by)
                progress.done += 1
            except Exception as exc:  # noqa: BLE001 - one broken dialogue must not stop the run
                if disk_full(exc):
                    raise  # every other dialogue would fail the same way: the run stops (see _run)
                entry["error"] = redact(f"{type(exc).__name__}: {exc}")
                progress.failed += 1
                progress.failures[spec.folder.name] = entry["error"]
            finally:
                ACTIVE_LEDGER.reset(token)
                progress.active.remove(ledger)
                progress.ran += 1
                progress.ledger.merge(ledger)
                self.ledger.merge(ledger)
                log.add(spec.folder.name, entry)
                try:
                    if spec.folder.is_dir():
                        if not usage_written:
                            write_json_atomic(spec.folder / "usage.json", ledger.to_dict())
                        if "error" in entry:
                            write_json_atomic(spec.folder / "failure.json", {"error": entry["error"], "attempt": attempt, "seed": seed})
                    log.save()
                except OSError as exc:
                    if not disk_full(exc):
                        raise
                    self.full = exc  # the folder stays incomplete and is redone by the next run

    def open_dialogue(self, spec: DialogueSpec, seed: int, attempt: int, user_models: ModelSet) -> tuple[Any, UserSimulator]:
        """A fresh dialogue folder with run_meta.json, the environment's episode and the simulated user."""
        self.wipe(spec.folder)
        spec.folder.mkdir(parents=True)
        write_json_atomic(
            spec.folder / "run_meta.json",
            {
                "seed": seed,
                "attempt": attempt,
                "model": spec.model,
                "user_model": user_models.specs["user"],
                "prompts": self.plan.prompts,
                "behavior": spec.behavior.name,
                "is_pbus": spec.behavior.is_pbus,
                "scenario": spec.scenario.id,
                "n": spec.n,
                "split": self.plan.split,
            },
        )
        rng = random.Random(seed)
        episode = self.env.open_episode(spec.scenario, spec.folder, rng, model_name=spec.model)
        user = UserSimulator(
            spec.scenario.goal_text,
            self.env.goal_items(spec.scenario),
            spec.behavior,
            user_models,
            rng,
            profile=self.env.user_profile,
            folder=spec.folder,
            service_context=self.env.service_context(spec.scenario),
            prompts=self.prompt_set(),
        )
        return episode, user

    def prompt_set(self) -> PromptSet | None:
        """The simulator's words: the original's (loaded and verified once per run) or None for the
        kit's own templates."""
        if self.plan.prompts == "paper" and self._prompt_set is None:
            self._prompt_set = PaperPrompts(self.plan.env)
        return self._prompt_set

    def wipe(self, folder: Path) -> None:
        """Remove a dialogue folder, its completion markers first: a kill halfway through the
        removal leaves an incomplete folder (rerun on resume), never one that looks complete."""
        if folder.is_symlink():  # never remove through a link: the link goes, its target stays
            folder.unlink()
            return
        for marker in (self.env.grade_file, "goal_align_result.json"):
            path = folder / marker
            if path.is_dir() and not path.is_symlink():  # something else in a marker's place
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def recover_entry(self, spec: DialogueSpec) -> bool:
        """A kill after a dialogue's grade file but before its log entry was saved leaves a complete
        folder the regeneration log does not know: take the entry from the folder's own files
        instead of simulating it again. True when an entry was added."""
        log = self.logs[spec.experiment]
        name = spec.folder.name
        if not self.complete(spec):
            return False
        meta = read_json(spec.folder / "run_meta.json")
        passed, _ = self.env.outcome(self.env.read_grade(spec.folder))
        if any(e.get("attempt") == meta.get("attempt") and e.get("aligned") is not None for e in log.entries.get(name, [])):
            return False
        try:
            ended_by = read_json(spec.folder / "dialogue_stats.json").get("ended_by")
        except (OSError, ValueError, AttributeError):
            ended_by = None
        entry = {"attempt": meta.get("attempt"), "seed": meta.get("seed"), "pass": None, "aligned": bool(read_aligned(spec.folder))}
        log.add(name, {**entry, "passed": passed, "ended_by": ended_by, "recovered": True})
        return True

    # --- passes -------------------------------------------------------------------------

    def cost_estimate(self) -> Estimate:
        """Calls, tokens and dollars per model for the dialogues not complete yet (first attempts)."""
        todo = [s for s in self.dialogues() if not self.complete(s)]
        return estimate(count_plan([(s.model, s.behavior) for s in todo]), self.routing().specs, self.agent_system_tokens)

    def agent_system_tokens(self) -> float:
        """The agent's system prompt in tokens (an environment may say; else the MultiWOZ size measured)."""
        chars = getattr(self.env, "agent_prompt_chars", None)
        return chars() / CHARS_PER_TOKEN if callable(chars) else float(profile()["dialogues"]["normal"]["agent_system"])

    def complete(self, spec: DialogueSpec) -> bool:
        return completed(self.env, spec.folder)

    def damaged(self, spec: DialogueSpec) -> bool:
        """A completion marker is there, but the folder does not validate as complete."""
        markers = (self.env.grade_file, "goal_align_result.json")
        return any(os.path.lexists(spec.folder / m) for m in markers) and not self.complete(spec)

    def needs_run(self, spec: DialogueSpec) -> bool:
        if not self.complete(spec):
            return True
        if read_aligned(spec.folder):
            return False
        return self.logs[spec.experiment].completed_attempts(spec.folder.name) < self.max_attempts

    def score(self, specs: Sequence[DialogueSpec]) -> dict[Path, ScoreBlock]:
        by_experiment: dict[Path, list[DialogueScore]] = {}
        for spec in specs:
            by_experiment.setdefault(spec.experiment, [])
            if not self.complete(spec):
                continue
            passed, fraction = self.env.outcome(self.env.read_grade(spec.folder))
            by_experiment[spec.experiment].append(DialogueScore(spec.folder, spec.n, passed, fraction, read_aligned(spec.folder)))
        group = getattr(self.env, "score_group", None)
        return {exp: aggregate(scores, group) for exp, scores in by_experiment.items()}

    def score_list_path(self, experiment: Path) -> Path:
        relative = experiment.relative_to(self.plan.root)
        return self.plan.root / "score_list" / ("_".join(relative.parts) + ".txt")

    async def run(self) -> dict[Path, ScoreBlock]:
        try:
            return await self._run()
        finally:
            self._writer.close()  # the results folder's lock
            await close_models(self._models.values())  # the user's models are among them (user_models resolves through model())

    async def _run(self) -> dict[Path, ScoreBlock]:
        specs = self.dialogues()
        if not specs:
            raise ConfigError("the selection is empty: check SCENARIOS, SUBSET and LIMIT")
        # Nothing is written before every model resolves (spec, key) and every HTTP endpoint can be
        # reached: a wrong setting stops the run with one line and no half-made result folders.
        for spec in specs:
            self.model(spec.model)
        user_models = self.user_models()
        self.prompt_set()  # paper mode: a missing or changed upstream file stops the run here, with one line
        for note in self.routing().notes:
            self.echo(f"models: {note}")
        await check_endpoints(self._models.values())
        make_results_folder(self.plan.root)
        self._writer.enter_context(WriterLock(self.plan.root, "simulate"))  # one writer per results folder
        for spec in specs:
            if spec.experiment not in self.logs:
                # Run-level files are checked before any dialogue runs: a damaged one stops the run
                # with one line instead of a traceback after the dialogues were paid for.
                self.logs[spec.experiment] = RegenerationLog(spec.experiment)
                read_run_level(RunRecord, spec.experiment / "run.json", "a run record")
                make_results_folder(spec.experiment)
        totals: dict[Path, int] = {}
        for spec in specs:
            totals[spec.experiment] = totals.get(spec.experiment, 0) + 1
        for experiment, total in totals.items():
            name = "/".join(experiment.relative_to(self.plan.root).parts)
            self.progress[experiment] = ExperimentProgress(name, total)
        recovered = {spec.experiment for spec in specs if self.recover_entry(spec)}
        for experiment in recovered:
            self.logs[experiment].save()
        limit = asyncio.Semaphore(self.plan.concurrency)
        blocks: dict[Path, ScoreBlock] = {}
        started = time.monotonic()
        while self.passes < self.max_attempts:
            # A dialogue whose attempt failed (failure.json) waits for the next invocation: rerunning
            # it at once would pay again for every call before the one that keeps failing.
            needed = [s for s in specs if self.needs_run(s)]  # one look at each folder per pass
            todo = [s for s in needed if s.folder.name not in self.progress[s.experiment].failures]
            waiting = {s.folder for s in needed}
            for experiment, progress in self.progress.items():
                progress.done = sum(1 for s in specs if s.experiment == experiment and s.folder not in waiting)
            if not todo:
                break
            self.passes += 1
            self.echo(f"pass {self.passes}: {len(todo)} of {len(specs)} dialogues to simulate")
            reporter = asyncio.create_task(self.report_progress())
            try:
                await asyncio.gather(*(self.run_one(spec, user_models, limit) for spec in todo))
                if self.full is not None:
                    raise self.full
            except OSError as exc:
                if not disk_full(exc):
                    raise
                kept = sum(1 for s in specs if self.complete(s))
                raise DiskFull(
                    f"no space left on the device under {self.plan.root}: the run stopped; {kept} of {len(specs)} dialogues "
                    "are complete and kept; free some space and rerun the same command to do the rest"
                ) from None
            finally:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            blocks = self.score(specs)
            for experiment, block in blocks.items():
                if any(s.experiment == experiment for s in todo):
                    attempt = self.next_attempt_number(experiment)
                    append_score_block(self.score_list_path(experiment), block, attempt, score_format(self.env))
            self.print_progress()
            if all(self.complete(s) and read_aligned(s.folder) for s in specs):
                break
        if not blocks:
            blocks = self.score(specs)
        self.write_run_json(specs, time.monotonic() - started)
        return blocks

    def next_attempt_number(self, experiment: Path) -> int:
        path = self.score_list_path(experiment)
        previous = path.read_text().count("Attempt ") if path.is_file() else 0
        return previous + 1

    async def report_progress(self) -> None:
        interactive = sys.stderr.isatty()
        while True:
            await asyncio.sleep(1.0 if interactive else 15.0)
            self.print_progress(interactive)

    def print_progress(self, interactive: bool = False) -> None:
        lines = [p.line() for p in self.progress.values()]
        if interactive:
            sys.stderr.write("\r\x1b[2K" + " | ".join(lines)[:200])
            sys.stderr.flush()
        else:
            for line in lines:
                self.echo(line)

    def iga(self, experiment: Path) -> float | None:
        aligned, total = self.logs[experiment].first_attempt_aligned()
        return aligned / total * 100 if total else None

    def write_run_json(self, specs: Sequence[DialogueSpec], seconds: float) -> None:
        versions = run_versions()
        for experiment, progress in self.progress.items():
            path = experiment / "run.json"
            try:
                record = read_run_level(RunRecord, path, "a run record")
            except NcusimError:
                record = None  # checked at the start; replaced by something else since: start afresh
            previous = {"invocations": record.invocations} if record else {}
            mine = [s for s in specs if s.experiment == experiment]
            plan = asdict(self.plan)
            plan["behaviors"] = [b.name + (" (pbus)" if b.is_pbus else "") for b in self.plan.behaviors]
            plan["results"] = str(self.plan.results or results_dir())
            invocation = {
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "seconds": round(seconds, 1),
                "passes": self.passes,
                "dialogues_run": progress.ran,
                "dialogues_failed": progress.failed,
                "failures": dict(progress.failures),
                "usage": progress.ledger.to_dict(),
            }
            write_json_atomic(
                path,
                {
                    "env": self.plan.env,
                    "split": self.plan.split,
                    "model": mine[0].model,
                    "behavior": mine[0].behavior.name,
                    "is_pbus": mine[0].behavior.is_pbus,
                    "plan": plan,
                    "versions": versions,
                    "models": {"agent": mine[0].model, "user": self.user_models_table()},
                    "dialogues": len(mine),
                    "complete": sum(self.complete(s) for s in mine),
                    "iga": self.iga(experiment),
                    "seeds": {name: entries[-1]["seed"] for name, entries in self.logs[experiment].entries.items()},
                    "invocations": [*previous.get("invocations", []), invocation],
                },
            )

    def user_models_table(self) -> dict[str, dict[str, str | float]]:
        """Model and temperature of every simulator call (run.json)."""
        return ModelSet.from_routing(self.routing()).table()


def summary_lines(runner: Runner, blocks: dict[Path, ScoreBlock]) -> list[str]:
    out = ["", f"{'experiment':<48} {'dialogues':>9} {'success':>8} {'pass':>8} {'align':>8} {'IGA':>6} {'cost $':>9}"]
    for experiment, block in blocks.items():
        progress = runner.progress[experiment]
        iga = runner.iga(experiment)

        def fmt(metric: str, block: ScoreBlock = block) -> str:
            value = block.mean(metric)
            return f"{value:8.2f}" if value is not None else f"{'-':>8}"

        out.append(
            f"{progress.name:<48} {block.total_graded:>4}/{progress.total:<4} {fmt('success_rate')} {fmt('pass_rate')} "
            f"{fmt('goal_align')} {(f'{iga:6.1f}' if iga is not None else '     -')} {progress.ledger.total().cost_usd:9.4f}"
        )
    by_role = runner.ledger.by_role()
    out.append(
        "cost by role: " + ", ".join(f"{role} ${u.cost_usd:.4f} ({u.calls} calls, {u.retries} retries)" for role, u in by_role.items())
    )
    failures = [(progress.name, name, why) for progress in runner.progress.values() for name, why in sorted(progress.failures.items())]
    if failures:
        out.append(f"{len(failures)} dialogue(s) failed, each with its reason in failure.json; rerun the same command to retry them:")
        out.extend(f"  {experiment}/{name}: {why}" for experiment, name, why in failures[:20])
        if len(failures) > 20:
            out.append(f"  ... and {len(failures) - 20} more")
    return out
