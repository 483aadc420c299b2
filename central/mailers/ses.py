"""Amazon SES SendEmail from the central account."""

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
