"""Amazon SES SendEmail from the central account.

Past the account's sending rate SES answers `Throttling` ("Maximum sending rate exceeded."), which
botocore's retry modes treat as a throttle: the send is retried with back-off (every client's one
Config; `IKR_AWS_RETRY_MODE=adaptive` also paces the shared SES client of a run's threads). A send
still refused after every attempt is a failed delivery: the new key is removed and the old one kept.

Outcomes: a 4xx answer (MessageRejected, throttling past the retries, AccessDenied) or no
connection at all (EndpointConnectionError, ConnectTimeoutError) is refused. A request that was
sent and whose answer was lost (ReadTimeoutError, ConnectionClosedError, an unreadable answer) or
was a 5xx is uncertain: SES may have taken the mail. botocore retries hide earlier attempts, so
every attempt of a send is watched: one uncertain attempt makes the whole send uncertain, even if
a later attempt was refused.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from central.domain.errors import DeliveryError, DeliveryUncertain
from central.notify.mailers.base import Mail, Mailer

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

_ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError, ResponseParserError)


class SesMailer(Mailer):
    name = "ses"

    def __init__(self, ses: SESClient, sender: str) -> None:
        self._ses = ses
        self._sender = sender
        self._attempts = threading.local()  # the SES client is shared by a run's threads
        ses.meta.events.register("needs-retry.ses.SendEmail", self._watch_attempt)

    def _watch_attempt(self, response: Any = None, caught_exception: Any = None, **_kwargs: Any) -> None:
        """botocore asks after each attempt whether to retry; note an attempt SES may have acted on."""
        http = response[0] if isinstance(response, tuple) and response else None
        if isinstance(caught_exception, _ANSWER_LOST) or (http is not None and http.status_code >= 500):
            self._attempts.uncertain = True

    def send(self, mail: Mail) -> None:
        self._attempts.uncertain = False
        try:
            self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [mail.to]},
                Message={
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": mail.text, "Charset": "UTF-8"},
                        "Html": {"Data": mail.html, "Charset": "UTF-8"},
                    },
                },
            )
        except ClientError as exc:
            error = exc.response["Error"]
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            reason = f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
            if status >= 500 or self._attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES failed on the mail to {mail.to} after taking the request ({reason}, HTTP {status}): "
                    "it may have been sent"
                ) from None
            raise DeliveryError(f"SES refused the mail to {mail.to}: {reason}") from None
        except (BotoCoreError, ResponseParserError) as exc:
            if isinstance(exc, _ANSWER_LOST) or self._attempts.uncertain:
                raise DeliveryUncertain(
                    f"SES took the request for the mail to {mail.to} but its answer was lost ({type(exc).__name__}): "
                    "it may have been sent"
                ) from None
            raise DeliveryError(f"SES could not be reached for the mail to {mail.to}: {type(exc).__name__}") from None
