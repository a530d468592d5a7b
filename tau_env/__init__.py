"""The Tau-Bench v1 environment (airline, retail): tasks, tools, ChatReAct agent, reward."""

from tau_env.db import data_hash, load_db
from tau_env.reward import calculate_reward
from tau_env.tool_step import call_tool

__all__ = ["calculate_reward", "call_tool", "data_hash", "load_db"]
