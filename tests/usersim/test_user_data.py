"""The simulator's personas and incomplete-utterance examples come from the environment's
`UserData`, and an environment without them gets no persona and a clear error for the behaviour."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from multiwoz_env.environment import USER_DATA as MULTIWOZ_USER_DATA
from shared.environment import UserData, UserProfile
from shared.errors import ConfigError
from shared.usersim import Behaviors, ModelSet, UserSimulator, resources
from tau_env.environment import USER_DATA as TAU_USER_DATA


def test_no_user_data_means_no_persona_and_no_examples() -> None:
    rng = random.Random(0)
    assert resources.sample_persona(rng, UserData()) == ""
    assert rng.random() == random.Random(0).random()  # nothing drawn
    assert resources.fragment_pool(UserData()) == ()


def test_the_two_environments_draw_from_the_same_upstream_files(data_home: Path) -> None:
    assert (MULTIWOZ_USER_DATA.persona_pattern, MULTIWOZ_USER_DATA.fragment_file) == (
        TAU_USER_DATA.persona_pattern,
        TAU_USER_DATA.fragment_file,
    )
    persona = resources.sample_persona(random.Random(7), MULTIWOZ_USER_DATA)
    assert persona and persona == resources.sample_persona(random.Random(7), TAU_USER_DATA)
    pool = resources.fragment_pool(MULTIWOZ_USER_DATA)
    assert len(pool) == 5582 and all(len(u.split(" ")) > 5 for u in pool)


def test_the_incomplete_utterance_behaviour_without_examples_is_one_config_error() -> None:
    profile = UserProfile(greeting="Hello.", stop_token="<END>")
    models = ModelSet()  # resolved lazily, and never: the error comes first
    user = UserSimulator(
        "You want tickets.", ["You want tickets."], Behaviors.parse("fragment_dumping"), models, random.Random(0), profile=profile
    )
    assert user.persona == ""
    with pytest.raises(ConfigError, match="needs at least 5 example utterances; this environment's user data has 0"):
        user.fragment_pool()
