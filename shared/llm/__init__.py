"""The model layer: `resolve(spec) -> ChatModel`, usage accounting, retries, cache."""

from shared.llm.base import ChatModel, ChatResult, Message
from shared.llm.resolve import resolve
from shared.llm.retry import RetryPolicy
from shared.llm.usage import DEFAULT_LEDGER, Usage, UsageLedger

__all__ = ["DEFAULT_LEDGER", "ChatModel", "ChatResult", "Message", "RetryPolicy", "Usage", "UsageLedger", "resolve"]
