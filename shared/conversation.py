"""One dialogue: the user speaks first, the agent acts until it talks or its step budget is spent,
the stop token ends the dialogue; every turn is written to the dialogue folder as it happens.

Files (original names and meaning): `dial_hist_user.txt` (the user's view), `dial_hist_system_list.json`
and `dial_hist_system.txt` (the agent's chat), `agent_response_list.json`, `dialogue_stats.json`;
then the simulator's state files, `goal_align_result.json` (judge) and the environment's grade.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.agent_plugins import Agent, plugin_step
from shared.environment import ActResult, Environment, load_target
from shared.errors import NcusimError
from shared.files import write_json_atomic, write_text_atomic
from shared.goal_alignment import LENIENT_RULE, STRICT_RULE, JudgeWording, judge, transcript
from shared.llm.base import BaseChatModel, ChatModel
from shared.usersim import UserSimulator


def paper_judge(env: Environment) -> JudgeWording:
    """The judge's wording in paper mode: the environment's class over the original's texts."""
    wording: JudgeWording = load_target(env.paper_judge, f"{env.name}'s paper-mode judge")(env.name)
    return wording


LIVE_VIEW_SECONDS = 5.0  # how stale the transcripts of a running dialogue may be on disk


AGENT_PROTOCOLS = ("paper", "tool-calling")  # the paper's text protocols, or the chat API's tool calls


@dataclass
class AgentSettings:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    protocol: str = "paper"  # one of AGENT_PROTOCOLS, or "plugin"
    plugin: Agent | None = None  # a bring-your-own agent (shared/agent_plugins.py)


@dataclass
class DialogueRecord:
    folder: Path
    turns: list[tuple[str, str]] = field(default_factory=list)  # (user|agent, text) as the user saw them
    transcript: str = ""  # dial_hist_user.txt
    history: list[dict[str, Any]] = field(default_factory=list)  # the agent's chat after the system prompt
    responses: list[str] = field(default_factory=list)
    n_turn: int = 0
    ended_by: str = ""  # "stop" | "budget"
    live_saved_at: float = float("-inf")  # monotonic time of the last live-view write
    tool_calling: bool = False  # the agent's chat is the tool-calling one (its own system prompt)

    def agent_chat(self, env: Environment, episode: Any) -> list[dict[str, Any]]:
        """The agent's whole chat as it was sent: system prompt and history."""
        if self.tool_calling:
            return env.tool_agent_messages(episode, self.history)
        return env.agent_messages(episode, self.history)

    def stats(self, episode: Any) -> dict[str, Any]:
        """The original's dialogue_stats.json keys, plus how the dialogue ended (`stop` or `budget`)."""
        return {
            "n_reasoning": int(getattr(episode, "n_reasoning", len(self.responses))),
            "n_turn": self.n_turn,
            "n_api_call": int(getattr(episode, "n_api_call", 0)),
            "n_retriever_call": 0,
            "n_read_docs": 0,
            "ended_by": self.ended_by,
        }


def _agent_text_file(messages: list[dict[str, Any]]) -> str:
    """dial_hist_system.txt: `User:<content>` for user messages, the raw content otherwise, blank-line
    separated; a tool-calling step's calls follow its text, one `Tool call: name(arguments)` each."""

    def shown(m: dict[str, Any]) -> str:
        if m["role"] == "user":
            return f"User:{m['content']}"
        calls = m.get("tool_calls") or []
        text = "\n".join([*([m["content"]] if m.get("content") else []), *(_call_line(c) for c in calls)])
        return text if m["role"] != "tool" else f"Tool result: {m.get('content', '')}"

    return "".join(shown(m) + "\n\n" for m in messages)


def _call_line(call: Any) -> str:
    function = call.get("function", {}) if isinstance(call, dict) else {}
    return f"Tool call: {function.get('name', '')}({function.get('arguments', '')})"


def _write_live_view(folder: Path, transcript: str, messages: list[dict[str, Any]], responses: list[str], final: bool) -> None:
    write_text_atomic(folder / "dial_hist_user.txt", transcript)
    # Compact while the dialogue runs (the C encoder; indent forces the slow pure-Python one), the
    # original's indent 4 once it ends.
    write_json_atomic(folder / "dial_hist_system_list.json", messages, indent=4 if final else None)
    if final:
        write_text_atomic(folder / "dial_hist_system.txt", _agent_text_file(messages))
        write_json_atomic(folder / "agent_response_list.json", responses)


async def _save_live_view(env: Environment, episode: Any, record: DialogueRecord) -> None:
    """Both transcripts as they stand, for whoever watches a running dialogue: at most once per
    LIVE_VIEW_SECONDS. Each write is a file creation, which costs the kernel far more than the
    JSON costs Python (`make bench`, latency suite), so it happens in a worker thread: the event
    loop serves the other dialogues' replies meanwhile. The snapshot is taken here, on the loop."""
    now = time.monotonic()
    if now - record.live_saved_at < LIVE_VIEW_SECONDS:
        return
    record.live_saved_at = now
    messages = record.agent_chat(env, episode)
    await asyncio.to_thread(_write_live_view, record.folder, record.transcript, messages, [], False)  # responses: only at the end


def _save_dialogue(env: Environment, episode: Any, record: DialogueRecord, user: UserSimulator, folder: Path) -> None:
    """Every end-of-dialogue file: the final transcripts (the original's content), the stats, the
    simulator's state and the environment's own files."""
    messages = record.agent_chat(env, episode)
    _write_live_view(folder, record.transcript, messages, record.responses, True)
    write_json_atomic(folder / "dialogue_stats.json", record.stats(episode))
    user.save(folder)
    env.save_dialogue(episode, folder, messages, user)


async def agent_step(env: Environment, episode: Any, agent: ChatModel, history: list[dict[str, Any]], settings: AgentSettings) -> ActResult:
    """One agent step: a reply in the paper's text protocol, a tool-calling turn, or a plug-in's step."""
    if settings.plugin is not None:
        answer = await plugin_step(settings.plugin, env.tool_agent_messages(episode, history), env.agent_tools(episode))
        return env.act_tool_calls(episode, answer.content, answer.tool_calls)
    if settings.protocol == "tool-calling":
        if not isinstance(agent, BaseChatModel):
            raise NcusimError(f"{agent.spec} cannot call tools: --agent tool-calling needs an OpenAI-compatible model")
        turn = await agent.chat_with_tools(
            env.tool_agent_messages(episode, history),
            env.agent_tools(episode),
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            top_p=settings.top_p,
            role="agent",
        )
        return env.act_tool_calls(episode, turn.content, turn.tool_calls)
    reply = await agent.chat(
        env.agent_messages(episode, history),
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        top_p=settings.top_p,
        role="agent",
    )
    return env.act(episode, reply.text)


async def converse(
    env: Environment, episode: Any, user: UserSimulator, agent: ChatModel, folder: Path, settings: AgentSettings
) -> DialogueRecord:
    profile = env.user_profile
    record = DialogueRecord(folder=folder, tool_calling=settings.protocol != "paper")
    stop = profile.stop_token
    user_text = await user.first_turn()
    last_round = False  # the agent's steps ran out but its last talk was still answered
    while True:
        record.turns.append(("user", user_text))
        record.transcript += profile.transcript_user.format(text=user_text) + "\n"
        record.history.append({"role": "user", "content": profile.user_to_agent.format(text=user_text)})
        record.n_turn += 1
        await _save_live_view(env, episode, record)
        if stop in user_text:  # the token itself, not any upper-case "END" (FIDELITY.md)
            record.ended_by = "stop"
            break
        if last_round:
            record.ended_by = "budget"
            break
        result: ActResult | None = None
        while result is None or not result.turn_over:
            result = await agent_step(env, episode, agent, record.history, settings)
            record.responses.append(result.reply)
            if result.messages is not None:
                record.history.extend(result.messages)
            else:
                record.history.append({"role": "assistant", "content": result.reply})
            if result.observation is not None:
                record.history.append({"role": result.observation_role, "content": result.observation})
            await _save_live_view(env, episode, record)
        record.n_turn += 1
        if result.budget_exhausted and not result.answered_at_budget_end:
            record.ended_by = "budget"  # no user reply; the last agent text never reaches the transcript
            break
        last_round = result.budget_exhausted
        agent_text = result.user_text or ""
        record.turns.append(("agent", agent_text))
        record.transcript += profile.transcript_agent.format(text=agent_text) + "\n"
        user_text = await user.reply(agent_text)
    # The dialogue is over: nothing else touches its objects while a worker thread writes them.
    await asyncio.to_thread(_save_dialogue, env, episode, record, user, folder)
    return record


async def judge_alignment(env: Environment, user: UserSimulator, record: DialogueRecord, model: ChatModel, dial_idx: str) -> dict[str, Any]:
    """Run the post-hoc judge on the dialogue's user/agent turns and write goal_align_result.json."""
    profile = env.user_profile
    items = user.state.items if profile.judge_counts_extras else [i for i in user.state.items if i not in user.extra_goals]
    result = await judge(
        record.turns,
        items,
        model,
        dial_idx=dial_idx,
        mention_rule=LENIENT_RULE if profile.judge_lenient else STRICT_RULE,
        prompt_dir=Path(profile.prompt_dir) / "user" if profile.prompt_dir else None,
        wording=paper_judge(env) if user.prompts.name == "paper" else None,
    )
    write_json_atomic(record.folder / "goal_align_result.json", result)
    return result


async def judge_or_unaligned(
    env: Environment, user: UserSimulator, record: DialogueRecord, model: ChatModel, dial_idx: str
) -> dict[str, Any]:
    """A judge that fails (after the model layer's retries) counts as "not aligned", so the dialogue
    is regenerated like any unaligned one, but its transcript and grade are kept (FIDELITY.md)."""
    try:
        return await judge_alignment(env, user, record, model, dial_idx)
    except NcusimError as exc:
        result = {"dial_idx": dial_idx, "dial_hist": transcript(record.turns), "result": False, "dialogue_state": user.state.items}
        result["judge_error"] = str(exc)
        write_json_atomic(record.folder / "goal_align_result.json", result)
        return result
