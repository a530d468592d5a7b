"""The runner: passes over the plan, one dialogue at a time per slot, score blocks after each pass,
run.json at the end; and the summary table."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared import agent_plugins, defaults, environment
from shared.conversation import AGENT_PROTOCOLS, AgentSettings, converse, judge_or_unaligned
from shared.cost_estimate import CHARS_PER_TOKEN, Estimate, count_plan, estimate, profile
from shared.environment import Environment, Scenario
from shared.errors import ConfigError, NcusimError
from shared.files import read_json, write_json_atomic
from shared.llm import resolve
from shared.llm.base import ChatModel, close_models
from shared.llm.keys import redact
from shared.llm.preflight import check_endpoints
from shared.llm.usage import ACTIVE_LEDGER, UsageLedger
from shared.paths import results_dir
from shared.runner.checkpoint import DiskFull, RegenerationLog, completed, disk_full
from shared.runner.plan import LOCAL_PREFIXES, MAX_DIALOGUES, DialogueSpec, RunPlan, agent_suffix, make_results_folder, model_dir, seed_for
from shared.runner.progress import ExperimentProgress
from shared.scoring import DialogueScore, ScoreBlock, aggregate, append_score_block, read_aligned
from shared.state_files import RunRecord, read_run_level
from shared.usersim import ModelSet, UserSimulator
from shared.usersim.models import Routing, route
from shared.usersim.prompt_sets import PromptSet
from shared.versions import run_versions
from shared.writer_lock import WriterLock


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
        self._plugins: dict[str, agent_plugins.Agent] = {}  # agent model spec -> its plug-in agent
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
                agent_dir = model_dir(model) + agent_suffix(plan.agent)
                experiment = plan.root / ("pbus" if behavior.is_pbus else "ours") / agent_dir / behavior.name
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
            models.max_tokens = defaults.LOCAL_USER_MAX_TOKENS
        return models

    def agent_settings(self, spec: str) -> AgentSettings:
        temperature = self.plan.agent_temperature
        if temperature is None and getattr(self.model(spec), "backend", "") == "openai":
            temperature = 1.0  # the paper's OpenAI agents sampled at T=1
        max_tokens = self.plan.agent_max_tokens
        if max_tokens is None and spec.startswith(LOCAL_PREFIXES):
            max_tokens = defaults.LOCAL_AGENT_MAX_TOKENS
        if self.plan.agent in AGENT_PROTOCOLS:
            return AgentSettings(temperature=temperature, max_tokens=max_tokens, protocol=self.plan.agent)
        plugin = self._plugins.get(spec)
        if plugin is None:
            plugin = self._plugins[spec] = agent_plugins.build(
                agent_plugins.load_factory(self.plan.agent), self.model(spec), self.plan.agent
            )
        return AgentSettings(temperature=temperature, max_tokens=max_tokens, protocol="plugin", plugin=plugin)

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
                await asyncio.to_thread(write_json_atomic, spec.folder / "usage.json", ledger.to_dict())
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
                "agent": self.plan.agent,
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
            wording = environment.load_target(self.env.paper_prompts, f"{self.plan.env}'s paper-mode wording")
            prompt_set: PromptSet = wording(self.plan.env)
            self._prompt_set = prompt_set
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
                    append_score_block(self.score_list_path(experiment), block, attempt, self.env.score_format)
            self.print_progress()
            if all(self.complete(s) and read_aligned(s.folder) for s in specs):
                break
        if not blocks:
            blocks = self.score(specs)
        self.write_run_json(specs, time.monotonic() - started, blocks)
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

    def write_run_json(self, specs: Sequence[DialogueSpec], seconds: float, blocks: dict[Path, ScoreBlock]) -> None:
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
                    "pass_hat_k": {str(row.k): row.as_dict() for row in blocks[experiment].pass_hat} if experiment in blocks else {},
                    "seeds": {name: entries[-1]["seed"] for name, entries in self.logs[experiment].entries.items()},
                    "invocations": [*previous.get("invocations", []), invocation],
                },
            )

    def user_models_table(self) -> dict[str, dict[str, str | float]]:
        """Model and temperature of every simulator call (run.json)."""
        return ModelSet.from_routing(self.routing()).table()


def summary_lines(runner: Runner, blocks: dict[Path, ScoreBlock]) -> list[str]:
    out = ["", f"{'experiment':<48} {'dialogues':>9} {'success':>8} {'pass':>8} {'align':>8} {'IGA':>6} {'pass^N':>7} {'cost $':>9}"]
    for experiment, block in blocks.items():
        progress = runner.progress[experiment]
        iga = runner.iga(experiment)

        def fmt(metric: str, block: ScoreBlock = block) -> str:
            value = block.mean(metric)
            return f"{value:8.2f}" if value is not None else f"{'-':>8}"

        out.append(
            f"{progress.name:<48} {block.total_graded:>4}/{progress.total:<4} {fmt('success_rate')} {fmt('pass_rate')} "
            f"{fmt('goal_align')} {(f'{iga:6.1f}' if iga is not None else '     -')} "
            f"{(f'{block.pass_hat[-1].value:7.2f}' if block.pass_hat else '      -')} {progress.ledger.total().cost_usd:9.4f}"
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
