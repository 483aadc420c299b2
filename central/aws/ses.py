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
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from central.aws.errors import translate
from central.domain.errors import DeliveryError, DeliveryUncertain

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

_ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError, ResponseParserError)


class SesSender:
    """SendEmail through one SES client (shared by a run's threads: the attempt flag is per thread)."""

    def __init__(self, ses: SESClient) -> None:
        self._ses = ses
        self._attempts = threading.local()
        ses.meta.events.register("needs-retry.ses.SendEmail", self._watch_attempt)

    def _watch_attempt(self, response: Any = None, caught_exception: Any = None, **_kwargs: Any) -> None:
        """botocore asks after each attempt whether to retry; note an attempt SES may have acted on."""
        http = response[0] if isinstance(response, tuple) and response else None
        if isinstance(caught_exception, _ANSWER_LOST) or (http is not None and http.status_code >= 500):
            self._attempts.uncertain = True

    def send(self, sender: str, to: str, subject: str, text: str, html: str) -> None:
        """Hand one UTF-8 mail with a text and an HTML body to SES; DeliveryError or DeliveryUncertain."""
        self._attempts.uncertain = False
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
            if status >= 500 or failure.uncertain or self._attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES failed on the mail to {to} after taking the request ({failure.reason}, HTTP {status}): "
                    "it may have been sent"
                ) from None
            raise DeliveryError(f"SES refused the mail to {to}: {failure.reason}") from None
        except (BotoCoreError, ResponseParserError) as exc:
            if isinstance(exc, _ANSWER_LOST) or self._attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES took the request for the mail to {to} but its answer was lost ({type(exc).__name__}): "
                    "it may have been sent"
                ) from None
            raise DeliveryError(f"SES could not be reached for the mail to {to}: {type(exc).__name__}") from None
