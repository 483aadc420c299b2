"""Secrets the central account keeps in its own Secrets Manager: the GitHub and GitLab tokens of the
CI delivery targets. Read when first needed; the value is remembered for scrubbing at once, and a
failure names the secret, never a value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from central.aws import clients as aws
from central.aws.errors import aws_call
from central.domain.redaction import remember

if TYPE_CHECKING:
    from central.aws.sessions import Session


class CentralSecrets:
    """SecretString reads from one session's Secrets Manager; failures are `AwsError`s naming the secret."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def secret(self, name: str) -> SecretStr:
        with aws_call("secretsmanager:GetSecretValue", f"secret {name}"):
            value = aws.secretsmanager(self._session).get_secret_value(SecretId=name).get("SecretString", "")
        value = value.strip()  # a token pasted with its newline still authenticates
        remember(value)
        return SecretStr(value)
