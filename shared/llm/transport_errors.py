"""The kit's own exceptions for a failed exchange with a model endpoint.

Why not the SDK's: building `openai.APIConnectionError` and friends needs a request object whose
shape is the SDK's business (openai 3.63 started reading `request.headers` in every constructor,
and the kit's `request=None` turned each refused connection into a non-transient AttributeError).
These carry exactly what the retry policy and the error line need, and nothing of a library's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


class EndpointError(Exception):
    """A model endpoint failed at the HTTP level (the retry policy classifies the subclasses)."""


class EndpointUnreachable(EndpointError):
    """Refused, reset or dropped connection, or bytes that are not an HTTP response: transient."""


class EndpointTimeout(EndpointUnreachable):
    """No complete answer within the client's timeout: transient."""


class EndpointResponseTooLarge(EndpointError):
    """The answer grew past the size any chat completion needs: a broken server, not retried."""


class EndpointStatusError(EndpointError):
    """An HTTP error status: 408, 429 and 5xx are transient, the rest fail at once."""

    def __init__(self, status_code: int, message: str, body: Any = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.body = body
        self.retry_after = retry_after


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def status_error(status_code: int, headers: Mapping[str, str] | Iterable[tuple[str, str]], content: bytes) -> EndpointStatusError:
    """The error for an HTTP error status: the server's message (JSON `error.message` or the first
    kilobyte of text), the parsed body, and Retry-After in seconds when it is a number."""
    try:
        body: Any = json.loads(content)
    except ValueError:
        body = content[:1000].decode("utf-8", "replace") or None
    detail = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        detail = detail["message"]
    header = _header(headers, "retry-after")
    try:
        retry_after = float(header) if header is not None else None
    except ValueError:  # an HTTP date: treated as no hint (the policy's backoff applies)
        retry_after = None
    return EndpointStatusError(status_code, f"Error code: {status_code} - {detail}", body=body, retry_after=retry_after)
