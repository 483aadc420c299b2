"""The run's secrets, kept so that outside text can be scrubbed of them before ikr repeats it.

A mail relay that quotes the message in its refusal, an AWS error that echoes a value, a webhook
library that prints its URL: text ikr did not write may hold a secret of the run. Wherever ikr
reads or makes a secret it calls `remember`; wherever outside text enters (a mailer's
DeliveryError, `errors.aws_reason`, a webhook failure, any IkrError message) it is passed through
`scrub`. A logging filter on the "ikr" logger scrubs every record as a last line.

Process-wide and thread-safe: accounts are worked on several threads. Secrets shorter than
MIN_LENGTH are not kept (they would blank out ordinary words; no secret ikr handles is that short).
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

MIN_LENGTH = 8
MASK = "***"
_PREFIX = MIN_LENGTH  # secrets are indexed by their first characters: scrubbing stays linear in the text

_lock = threading.Lock()
_by_prefix: dict[str, tuple[str, ...]] = {}  # first characters -> secrets, longest first


def remember(secret: str) -> None:
    """Keep `secret` for the rest of the process (short strings are ignored)."""
    if not isinstance(secret, str) or len(secret) < MIN_LENGTH:
        return
    head = secret[:_PREFIX]
    with _lock:
        known = _by_prefix.get(head, ())
        if secret not in known:
            _by_prefix[head] = tuple(sorted((*known, secret), key=len, reverse=True))


def forget_all() -> None:
    """For tests: start with no secrets."""
    with _lock:
        _by_prefix.clear()


def scrub(text: str) -> str:
    """`text` with every remembered secret replaced by `***`."""
    index = _by_prefix  # a dict read is atomic; entries are replaced whole, never changed in place
    if not index or not isinstance(text, str) or len(text) < MIN_LENGTH:
        return text
    pieces: list[str] = []
    start = position = 0
    last = len(text) - _PREFIX
    while position <= last:
        candidates = index.get(text[position : position + _PREFIX])
        match = next((s for s in candidates if text.startswith(s, position)), None) if candidates else None
        if match is None:
            position += 1
            continue
        pieces += [text[start:position], MASK]
        position = start = position + len(match)
    if not pieces:
        return text
    pieces.append(text[start:])
    return "".join(pieces)


def scrub_value(value: Any) -> Any:
    """Strings scrubbed inside lists, tuples and dicts (a log record's extra fields)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item) for item in value)
    return value


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class ScrubFilter(logging.Filter):
    """Scrubs a record's message, extra fields and exception text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _by_prefix:
            return True
        record.msg = scrub(record.getMessage())
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD:
                record.__dict__[name] = scrub_value(value)
        if record.exc_info and record.exc_info[1] is not None:
            # Powertools prefers an `exception` field to formatting exc_info itself.
            record.__dict__["exception"] = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.__dict__["exception_name"] = type(record.exc_info[1]).__name__
            record.exc_info = None
            record.exc_text = None
        return True


FILTER = ScrubFilter()


def install(logger_name: str = "ikr") -> None:
    """Put the filter on the named logger (idempotent); done when this module is imported."""
    logger = logging.getLogger(logger_name)
    if FILTER not in logger.filters:
        logger.addFilter(FILTER)


install()
