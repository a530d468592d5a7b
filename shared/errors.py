"""Errors the CLI turns into one clear line (no traceback) and a non-zero exit."""


class NcusimError(Exception):
    """Base of every error meant for the user: its message says what is wrong and the fix."""


class ConfigError(NcusimError):
    """A wrong setting: unknown spec, missing key, bad value."""


class DataError(NcusimError):
    """Upstream data missing, unreachable or failing verification."""


class ModelError(NcusimError):
    """A model endpoint failed in a way retries could not fix."""


def one_line(text: str) -> str:
    """A message on one line: the lines of a multi-line text (a library's error) joined by spaces."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def yaml_problem(exc: Exception) -> str:
    """A YAML parse error as `<problem> (line L, column C)` instead of PyYAML's multi-line report
    with the offending line and a caret under it."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or one_line(str(exc))
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else str(problem)


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))}


def printable(text: object) -> str:
    """Text for a terminal: control characters (escape sequences, screen clears, title changes) in
    a file name or a model's reply are shown as `\\xNN`, so they cannot act on the terminal. Newlines
    and tabs are kept."""
    return str(text).translate(_CONTROL)
