"""Retries with bounded exponential backoff for transient remote-storage errors.

Transient: connection drops, timeouts, HTTP 5xx, throttling (``SlowDown``).
Everything else (missing keys, refused credentials) is raised at once: retrying
cannot fix it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["RetryPolicy", "is_transient", "with_retries"]

T = TypeVar("T")

# Exception class names from botocore, aiohttp and the stdlib that mean "try again";
# matched by name so that neither library is imported to classify an error.
_TRANSIENT_NAMES = frozenset(
    {
        "ClientConnectorError",
        "ClientOSError",
        "ClientPayloadError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "EndpointConnectionError",
        "IncompleteReadError",
        "ReadTimeoutError",
        "ResponseStreamingError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
    }
)
_TRANSIENT_TEXT = (
    "slowdown",
    "slow down",
    "throttl",
    "serviceunavailable",
    "service unavailable",
    "internalerror",
    "internal error",
    "requesttimeout",
)
# An HTTP 5xx status as a word of its own (not digits inside a hex digest or key).
_STATUS_5XX = re.compile(r"(?<![0-9a-zA-Z])5(?:00|02|03|04)(?![0-9a-zA-Z])")


def is_transient(error: BaseException) -> bool:
    """Whether *error* is worth retrying (a network or server-side hiccup)."""
    if isinstance(
        error, (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)
    ):
        return False
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    for link in (error, error.__cause__, error.__context__):
        if link is None:
            continue
        if type(link).__name__ in _TRANSIENT_NAMES:
            return True
        text = str(link).lower()
        if isinstance(link, OSError) and (
            any(m in text for m in _TRANSIENT_TEXT) or _STATUS_5XX.search(text)
        ):
            return True
    return False


class RetryPolicy:
    """How often and how long to retry: ``attempts`` tries, delays ``base * 2**n`` capped at ``cap``."""

    def __init__(self, attempts: int = 5, base: float = 0.2, cap: float = 5.0) -> None:
        self.attempts = max(1, attempts)
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        # Full jitter: spread concurrent clients apart after a shared outage.
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))


def with_retries(
    action: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run *action*, retrying transient errors under *policy*; the last error propagates."""
    for attempt in range(policy.attempts):
        try:
            return action()
        except Exception as exc:
            if attempt == policy.attempts - 1 or not is_transient(exc):
                raise
            sleep(policy.delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
