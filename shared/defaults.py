"""The kit's defaults, in one place: the paper's where it had one, the kit's own otherwise."""

from __future__ import annotations

# The two tiers of simulator calls: the paper ran the user and most helpers on the first, the
# outbursts, tangents, complaints, cynical rewrite, PBUS topic and the judge on the second.
USER_TIER_MODEL = "gpt-4.1-mini"
HELPER_TIER_MODEL = "gpt-4o-mini"

N = 4  # simulations per scenario (the paper)
CONCURRENCY = 32  # dialogues in flight at once

# Token caps for models the kit runs itself (local, hf:, scripted:): a small local model stays
# quick; API models get no cap, as in the paper.
LOCAL_USER_MAX_TOKENS = 80
LOCAL_AGENT_MAX_TOKENS = 160
