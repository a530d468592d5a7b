"""Errors the CLI turns into one clear line (no traceback) and a non-zero exit."""


class NcusimError(Exception):
    """Base of every error meant for the user: its message says what is wrong and the fix."""


class ConfigError(NcusimError):
    """A wrong setting: unknown spec, missing key, bad value."""


class DataError(NcusimError):
    """Upstream data missing, unreachable or failing verification."""


class ModelError(NcusimError):
    """A model endpoint failed in a way retries could not fix."""
