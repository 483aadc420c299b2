"""Secrets the central account keeps in its own SSM Parameter Store: the SMTP password, the Mailgun
API key, the webhook URL. Read when first needed; the value is remembered for scrubbing at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from central.aws import clients as aws
from central.aws.errors import aws_call
from central.domain.redaction import remember

if TYPE_CHECKING:
    from central.aws.sessions import Session


class CentralParameters:
    """SecureString reads from one session's SSM; failures are `AwsError`s naming the parameter."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def secret(self, name: str) -> SecretStr:
        with aws_call("ssm:GetParameter", f"parameter {name}"):
            value = aws.ssm(self._session).get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        remember(value)
        return SecretStr(value)
