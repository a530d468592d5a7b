"""The Tau-Bench v1 environment (airline, retail): tasks, tools, ChatReAct agent, reward."""
