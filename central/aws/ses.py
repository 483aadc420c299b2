"""Amazon SES SendEmail from the central account, with the delivery outcome as ikr's contract names it.

Past the account's sending rate SES answers `Throttling` ("Maximum sending rate exceeded."), which
botocore's retry modes treat as a throttle: the send is retried with back-off (every client's one
Config; `IKR_AWS_RETRY_MODE=adaptive` also paces the shared SES client of a run's threads). A send
still refused after every attempt is a failed delivery: the new key is removed and the old one kept.

Outcomes (docs/ARCHITECTURE.md, "Trust under overlap and faults"): a 4xx answer (MessageRejected,
throttling past the retries, AccessDenied) or no connection at all (EndpointConnectionError,
ConnectTimeoutError) is `DeliveryError`, refused. A request that was sent and whose answer was lost
(ReadTimeoutError, ConnectionClosedError, an unreadable answer) or was a 5xx is `DeliveryUncertain`:
SES may have taken the mail. botocore's retries hide earlier attempts, so every attempt of a send is
watched: one uncertain attempt makes the whole send uncertain, even if a later attempt was refused.
The generic `aws_call` translation cannot know this (it sees the last attempt only), so this adapter
raises the delivery errors itself; the classification of codes is still `central.aws.errors`'s.

SES's two throttles are not alike (SES developer guide, "Errors related to the sending quotas"):
- "Daily message quota exceeded" will not clear for hours: it is not retried at all, and the send
  raises `MailQuotaExceeded` (the mailer then postpones the rest of the run's mail);
- "Maximum sending rate exceeded" clears within a second or so: botocore retries it with back-off,
  but never past the time the Lambda invocation has left (`time_left`, in seconds; None for the
  CLI, which has no deadline). A retry whose longest back-off would leave less than
  `RESERVE_SECONDS` is not made: the send is refused as throttled and the new key removed in time.
botocore asks every `needs-retry` handler and takes the first answer that is not None, so one
handler, registered first once per client, answers False to stop a retry and None to leave the
decision (and the back-off) to botocore. It reads the send under way in its thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from central.aws.errors import THROTTLING_CODES, translate
from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain, MailQuotaExceeded

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

_ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError, ResponseParserError)
DAILY_QUOTA = "daily message quota exceeded"  # SES's message, compared in lower case
# botocore's standard back-off: rand(0, 1) * min(2 ** (attempt - 1), 20) s for a throttle, and up to
# 5 s more when the answer names a retry-after. The longest wait a retry may bring:
_MAX_BACKOFF_S, _RETRY_AFTER_EXTRA_S = 20.0, 5.0
# Kept free when deciding on a retry: the time to send once more, undo the rotation (delete the new
# key, drop the journal) and record the row before Lambda stops the invocation.
RESERVE_SECONDS = 15.0
_HOOK_ID = "ikr-ses-send-attempts"
TimeLeft = Callable[[], float | None]


def no_deadline() -> float | None:
    return None


@dataclass
class _Send:
    """One send under way in a thread: what its attempts showed."""

    time_left: TimeLeft
    uncertain: bool = False  # an attempt SES may have acted on
    daily_quota: bool = False  # refused for the day's quota: not retried
    out_of_time: bool = False  # a retry would have outlasted the invocation: not made


_current = threading.local()  # .send: the _Send of this thread's SendEmail, while it runs


def _longest_backoff(attempts: int) -> float:
    return min(2.0 ** max(attempts - 1, 0), _MAX_BACKOFF_S) + _RETRY_AFTER_EXTRA_S


def _watch_attempt(response: Any = None, caught_exception: Any = None, attempts: int = 1, **_kwargs: Any) -> Any:
    """botocore asks after each attempt whether to retry: note an attempt SES may have acted on,
    and say no (False) to the retry of a daily-quota refusal or of one that would outlast the time
    left; None leaves the decision to botocore's retry handler."""
    send: _Send | None = getattr(_current, "send", None)
    if send is None:
        return None  # not a send of this module's (a test's own call on the client)
    http = response[0] if isinstance(response, tuple) and response else None
    if isinstance(caught_exception, _ANSWER_LOST) or (http is not None and http.status_code >= 500):
        send.uncertain = True
    parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else None
    error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
    if error.get("Code") not in THROTTLING_CODES:
        return None
    if DAILY_QUOTA in str(error.get("Message", "")).lower():
        send.daily_quota = True
        return False
    left = send.time_left()
    if left is not None and left - _longest_backoff(attempts) < RESERVE_SECONDS:
        send.out_of_time = True
        return False
    return None


class SesSender:
    """SendEmail through one SES client (shared by a run's threads: what a send's attempts showed is
    kept per thread). `time_left`: seconds the invocation has left, None without a deadline."""

    def __init__(self, ses: SESClient, time_left: TimeLeft = no_deadline) -> None:
        self._ses = ses
        self._time_left = time_left
        # Once per client (a warm Lambda makes a sender per invocation on the same client): the hook
        # reads the send under way in its thread, whichever sender made it.
        ses.meta.events.register_first("needs-retry.ses.SendEmail", _watch_attempt, unique_id=_HOOK_ID)

    def send(self, sender: str, to: str, subject: str, text: str, html: str) -> None:
        """Hand one UTF-8 mail with a text and an HTML body to SES; DeliveryError (MailQuotaExceeded for
        the daily quota) or DeliveryUncertain."""
        attempts = _current.send = _Send(self._time_left)
        try:
            self._send(attempts, sender, to, subject, text, html)
        finally:
            _current.send = None

    def _send(self, attempts: _Send, sender: str, to: str, subject: str, text: str, html: str) -> None:
        try:
            self._ses.send_email(
                Source=sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
                },
            )
        except ClientError as exc:
            failure = translate(exc, "ses:SendEmail", f"mail to {to}")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            # A 5xx, or a code AWS uses for a request it may have carried out, or an earlier attempt
            # whose answer was lost: SES may hold the mail.
            if status >= 500 or failure.uncertain or attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES failed on the mail to {to} after taking the request ({failure.reason}, HTTP {status}): "
                    "it may have been sent"
                ) from None
            if attempts.daily_quota:
                raise MailQuotaExceeded(
                    f"SES refused the mail to {to}: {failure.reason} (the account's daily sending quota is used up; "
                    "not retried)"
                ) from None
            if attempts.out_of_time:
                raise DeliveryError(
                    f"SES refused the mail to {to}: {failure.reason} (not retried: the next back-off would outlast "
                    "the time the invocation has left)"
                ) from None
            # Throttled past the retries: minutes mend it. Anything else (MessageRejected for an unverified
            # address in the sandbox, an unverified MAIL FROM domain, sending paused, access denied) waits
            # for a person: the retry run leaves it to the daily run.
            kind = DeliveryError if failure.retryable else DeliveryRefused
            raise kind(f"SES refused the mail to {to}: {failure.reason}") from None
        except (BotoCoreError, ResponseParserError) as exc:
            if isinstance(exc, _ANSWER_LOST) or attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES took the request for the mail to {to} but its answer was lost ({type(exc).__name__}): "
                    "it may have been sent"
                ) from None
            raise DeliveryError(f"SES could not be reached for the mail to {to}: {type(exc).__name__}") from None
