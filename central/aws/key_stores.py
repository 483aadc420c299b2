"""Writing a new key pair into the user's own account for machines: a Secrets Manager secret or an
SSM SecureString parameter, as JSON `{"AccessKeyId": ..., "SecretAccessKey": ...}`.

A secret that does not exist yet is created and tagged `IKR:MANAGED=true`; otherwise a new version
is put, and Secrets Manager keeps the one before as AWSPREVIOUS. A parameter is overwritten (SSM
keeps its history). Writing the same pair twice (a rerun after a crash) is harmless. A refused
write is a failed delivery ("delivery refused"); its message names the target, AWS's error code and
what it means for the target (`central.aws.store_refusals`), never AWS's message, which can echo
the value. A write whose answer was lost, or was a 5xx, may have happened: uncertain.
"""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError
from pydantic import SecretStr

from central.aws import clients as aws
from central.aws.errors import SERVER_CODES, THROTTLING_CODES
from central.aws.store_refusals import refusal
from central.domain.delivery import Delivery, Via
from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain
from central.domain.redaction import remember

MANAGED_TAG_KEY, MANAGED_TAG_VALUE = "IKR:MANAGED", "true"


def write_pair(session: boto3.Session, delivery: Delivery, key_id: str, secret: SecretStr, where: str) -> str:
    """Store the pair; the version written (for the owner's notice). `where` names account and user."""
    assert delivery.name is not None
    remember(secret.get_secret_value())
    payload = json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret.get_secret_value()})
    try:
        if delivery.via is Via.SECRETS_MANAGER:
            return _put_secret(session, delivery.name, payload, where)
        version = aws.ssm(session).put_parameter(
            Name=delivery.name, Value=payload, Type="SecureString", Overwrite=True
        )["Version"]
        return str(version)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise DeliveryUncertain(
                f"{where}: writing the new key to {delivery.where} failed with {code} after the "
                "request was taken: it may have been written"
            ) from None
        # Refused: nothing was written; the reason says what the target's owner can do about it.
        reason = refusal(delivery, code, str(exc.response["Error"].get("Message", "")))
        # Throttled past botocore's retries, or a transient server error: minutes mend it. Otherwise
        # the target's policy, key, type or state said no, which waits for a person.
        transient = code in THROTTLING_CODES or code in SERVER_CODES
        raise (DeliveryError if transient else DeliveryRefused)(
            f"{where}: delivery refused: cannot write the new key to {delivery.where}: {reason}"
        ) from None
    except (ReadTimeoutError, ConnectionClosedError) as exc:
        raise DeliveryUncertain(
            f"{where}: the answer to writing the new key to {delivery.where} was lost ({type(exc).__name__}): it "
            "may have been written"
        ) from None
    except BotoCoreError as exc:
        raise DeliveryError(f"{where}: cannot write the new key to {delivery.where}: {type(exc).__name__}") from None


def _put_secret(session: boto3.Session, name: str, payload: str, where: str) -> str:
    secrets = aws.secretsmanager(session)
    try:
        return secrets.put_secret_value(SecretId=name, SecretString=payload)["VersionId"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return secrets.create_secret(
        Name=name,
        SecretString=payload,
        Description=f"IAM access key pair kept current by ikr ({where})",
        Tags=[{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}],
    )["VersionId"]


class KeyPairStore:
    """The stores of one account that IKR:DELIVERY can name, for the rotation's delivery step."""

    def __init__(self, session: boto3.Session, account_id: str) -> None:
        self._session = session
        self.account_id = account_id

    def write(self, delivery: Delivery, key_id: str, secret: SecretStr, user_name: str) -> str:
        """Store the pair; the version written. DeliveryError if refused, DeliveryUncertain if it may be there."""
        return write_pair(self._session, delivery, key_id, secret, f"account {self.account_id} user {user_name}")
