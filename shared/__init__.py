"""ncusim: the environment-agnostic library (data, models, simulator, runner, scoring)."""

__version__ = "0.1.0"
