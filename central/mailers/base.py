"""One interface for every mail back end: hand over a message or raise DeliveryError."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr

from central.errors import DeliveryError
from central.model import Frozen

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class Mail(Frozen):
    to: str
    subject: str
    # The bodies may carry a plain secret access key: keep them out of any repr or traceback.
    text: str = Field(repr=False)
    html: str = Field(repr=False)


class Mailer(ABC):
    name: str

    @abstractmethod
    def send(self, mail: Mail) -> None:
        """Hand the mail to the mail system; raise DeliveryError (never with a secret) if refused."""


def read_secret_parameter(ssm: SSMClient, parameter: str, purpose: str) -> SecretStr:
    """A secret the central account keeps in SSM (SMTP password, Mailgun key)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - keeps botocore out of pure imports

    try:
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        error = exc.response["Error"]
        raise DeliveryError(f"cannot read the {purpose} from SSM parameter {parameter}: {error['Code']}") from None
    return SecretStr(value)
