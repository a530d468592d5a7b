"""The non-collaborative user simulator: `UserSimulator(goal, items, behaviors, models, rng, ...)`."""

from shared.usersim.config import Behaviors
from shared.usersim.models import ModelSet
from shared.usersim.simulator import UserSimulator

__all__ = ["Behaviors", "ModelSet", "UserSimulator"]
