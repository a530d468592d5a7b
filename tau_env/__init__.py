"""The Tau-Bench v1 environment (airline, retail): tasks, tools, ChatReAct agent, reward."""

from tau_env.db import data_hash, load_db
from tau_env.env import call_tool

__all__ = ["call_tool", "data_hash", "load_db"]
