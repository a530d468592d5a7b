"""The OpenAI-compatible transport's reading of replies and errors (shared/llm/openai_compat.py).

End-to-end faults (429, 5xx, drops, truncated and non-JSON bodies) are in
tests/reliability/test_endpoint_faults.py against a real server; these pin the parsing rules.
"""

from __future__ import annotations

import json

import pytest

from shared.llm.openai_compat import parse_completion
from shared.llm.retry import EmptyCompletion, explain, is_transient, retry_after_seconds
from shared.llm.transport_errors import EndpointStatusError, EndpointTimeout, EndpointUnreachable, status_error


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_first_choice_text_usage_and_finish_reason() -> None:
    reply = body(
        choices=[{"message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}, {"message": {"content": "no"}}],
        usage={"prompt_tokens": 12, "completion_tokens": 3},
    )
    done = parse_completion(reply)
    assert (done.text, done.prompt_tokens, done.completion_tokens, done.finish_reason) == ("Hello.", 12, 3, "stop")


def test_content_parts_are_joined_and_missing_usage_counts_zero() -> None:
    parts = [{"type": "text", "text": "Hel"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "lo"}]
    done = parse_completion(body(choices=[{"message": {"content": parts}}]))
    assert (done.text, done.prompt_tokens, done.completion_tokens, done.finish_reason) == ("Hello", 0, 0, None)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"[1, 2]", "the body is not a JSON object"),
        (body(choices=[]), "no choices"),
        (body(error={"message": "overloaded"}), "no choices"),
        (body(choices=["text"]), "no choices"),
        (body(choices=[{"message": {"content": None}}]), "no content"),
        (body(choices=[{"message": "hi"}]), "no content"),
        (body(choices=[{"message": {"content": 7}}]), "no content"),
    ],
)
def test_unusable_bodies_are_retryable_empty_completions(reply: bytes, reason: str) -> None:
    with pytest.raises(EmptyCompletion, match=reason) as caught:
        parse_completion(reply)
    assert is_transient(caught.value) and caught.value.completion is None


def test_blank_content_is_retried_but_kept_as_the_answer_of_last_resort() -> None:
    with pytest.raises(EmptyCompletion) as caught:
        parse_completion(body(choices=[{"message": {"content": "  "}, "finish_reason": "stop"}]))
    assert caught.value.completion is not None and caught.value.completion.text == "  "


def test_non_json_body_raises_a_retryable_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_completion(b'{"choices": [{"message": {"content": "cut')
    assert is_transient(caught.value)


def test_status_errors_keep_code_message_and_retry_after() -> None:
    limited = status_error(429, {"Retry-After": "3"}, body(error={"message": "slow down"}))
    assert isinstance(limited, EndpointStatusError) and limited.status_code == 429
    assert "slow down" in limited.message and is_transient(limited) and retry_after_seconds(limited) == 3.0
    refused = status_error(401, [("content-type", "application/json")], body(error={"message": "bad key"}))
    assert refused.status_code == 401 and not is_transient(refused) and retry_after_seconds(refused) is None
    html = status_error(502, [("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")], b"<html>Bad Gateway</html>")
    assert html.status_code == 502 and "Bad Gateway" in html.message and is_transient(html)
    assert retry_after_seconds(html) is None  # an HTTP date is no number of seconds: the policy's backoff applies


def test_transport_failures_are_transient_and_explained_in_one_line() -> None:
    dropped, slow = EndpointUnreachable("connection error: ConnectError"), EndpointTimeout("timed out")
    assert is_transient(dropped) and is_transient(slow)
    where = "http://127.0.0.1:9/v1"
    assert "is the server running" in str(explain(dropped, where, "tiny", None, 3))
    assert "timed out after 3 attempts" in str(explain(slow, where, "tiny", None, 3))
    assert "HTTP 401" in str(explain(status_error(401, {}, b""), where, "tiny", "OPENAI_API_KEY", 1))
