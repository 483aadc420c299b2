"""Amazon SES SendEmail from the central account.

Past the account's sending rate SES answers `Throttling` ("Maximum sending rate exceeded."), which
botocore's retry modes treat as a throttle: the send is retried with back-off (every client's one
Config; `IKR_AWS_RETRY_MODE=adaptive` also paces the shared SES client of a run's threads). A send
still refused after every attempt is a failed delivery: the new key is removed and the old one kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from central.errors import DeliveryError
from central.mailers.base import Mail, Mailer

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient


class SesMailer(Mailer):
    name = "ses"

    def __init__(self, ses: SESClient, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    def send(self, mail: Mail) -> None:
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
            raise DeliveryError(
                f"SES refused the mail to {mail.to}: {error['Code']}: {error.get('Message', '')}"
            ) from None
        except BotoCoreError as exc:
            raise DeliveryError(f"SES could not be reached for the mail to {mail.to}: {type(exc).__name__}") from None
