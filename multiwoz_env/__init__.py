"""The MultiWOZ environment: scenarios, per-dialogue sandbox, the 12 APIs, agent protocol, grader."""
