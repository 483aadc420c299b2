"""Secrets ikr keeps in the owning account's SSM Parameter Store, all SecureStrings:

- `/ikr/secret/iam/<USERNAME>`: the user's Fernet key that encrypts mailed key pairs;
- `/ikr/secret/iam/<USERNAME>/pending`: a new key pair between its creation and its delivery, so a
  run that dies after mailing it can mail the same pair again instead of replacing it. Once the key
  is delivered the pair is overwritten by the delivery's mark (key id and promised deletion time, no
  secret), which the destructor removes with the Fernet key; never in the expiry table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from central.aws import clients
from central.aws.errors import translate
from central.domain import crypto
from central.domain.errors import SecretStoreError
from central.domain.model import Frozen
from central.domain.redaction import remember

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from central.aws.sessions import Session

PATH = "/ikr/secret/iam/"


_SSM_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


def parameter_name(user_name: str) -> str:
    """`/ikr/secret/iam/<USERNAME>`, the original tool's contract, for every name SSM can hold.

    IAM user names may also contain `+ = , @` (john.doe@corp is common); SSM parameter names may
    not. Such a user's name is hex-encoded under `x/`, which no plain name can collide with.
    """
    if _SSM_SAFE.fullmatch(user_name):
        return f"{PATH}{user_name}"
    return f"{PATH}x/{user_name.encode('utf-8').hex()}"


def pending_name(user_name: str) -> str:
    return f"{parameter_name(user_name)}/pending"


class _Expected(Exception):
    """SSM gave the answer the caller expects may come (not there, there already): not a failure."""


class PendingKey(Frozen):
    key_id: str
    secret: SecretStr


class DeliveredMark(Frozen):
    """What replaces the pending pair once its key is delivered: the key id and the deletion time the
    delivery promised, no secret. A run that dies before scheduling the old key leaves this, not the
    pair; the rerun schedules from it."""

    key_id: str
    delete_at: int


class UserKeyStore:
    """A refused call is a SecretStoreError naming account, user and parameter; one that got no answer
    from AWS (unreachable, timed out) is the `AwsError` of `central.aws.errors`."""

    def __init__(self, ssm: SSMClient, account_id: str) -> None:
        self._ssm = ssm
        self._account_id = account_id

    @classmethod
    def of(cls, session: Session, account_id: str) -> UserKeyStore:
        return cls(clients.ssm(session), account_id)

    def get(self, user_name: str) -> str | None:
        key = self._read(parameter_name(user_name), user_name)
        if key is None:
            return None
        remember(key)  # a Fernet key, read or just made: scrubbed from any text ikr repeats
        return key

    def get_or_create(self, user_name: str) -> str:
        """The user's key, made on first use; a key made before (or concurrently, by someone else) wins.

        Written first, with Overwrite=False, and read only when SSM says it exists: that put is the
        "does it exist?" question and its answer at once, atomically, so a key just written is known
        without reading it back. Between rotations the key is normally gone (the destructor deletes
        it with the user's last old key), so this is one call where read-then-write was three."""
        made = crypto.new_key()
        remember(made)  # a Fernet key, made here or read: scrubbed from any text ikr repeats
        try:
            with self._call(
                "PutParameter", "create", user_name, parameter_name(user_name), True, "ParameterAlreadyExists"
            ):
                self._ssm.put_parameter(
                    Name=parameter_name(user_name),
                    Value=made,
                    Type="SecureString",
                    Description=f"ikr: key that encrypts the access keys mailed to IAM user {user_name}",
                    Overwrite=False,
                )
        except _Expected:
            existing = self.get(user_name)  # there before: that key stays the user's
            if existing is None:
                raise SecretStoreError(
                    f"account {self._account_id} user {user_name}: key vanished after creation"
                ) from None
            return existing
        return made

    def put_pending(self, user_name: str, key_id: str, secret: SecretStr) -> None:
        remember(secret.get_secret_value())
        pair = json.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret.get_secret_value()})
        self._put_pending(user_name, pair, "until its delivery is recorded", sent_secret=True)

    def mark_delivered(self, user_name: str, key_id: str, delete_at: int) -> None:
        """Overwrite the pending pair with its delivery's mark (no secret): the pair is gone from SSM
        in the same call that records the delivery where a rerun looks for the pair."""
        mark = json.dumps({"AccessKeyId": key_id, "DeliveredDeleteAt": delete_at})
        self._put_pending(user_name, mark, "delivered; the old key's deletion time", sent_secret=False)

    def _put_pending(self, user_name: str, value: str, what: str, sent_secret: bool) -> None:
        with self._call("PutParameter", "write", user_name, pending_name(user_name), sent_secret=sent_secret):
            self._ssm.put_parameter(
                Name=pending_name(user_name),
                Value=value,
                Type="SecureString",
                Description=f"ikr: new key of IAM user {user_name} {what}",
                Overwrite=True,
            )

    def get_pending(self, user_name: str) -> PendingKey | DeliveredMark | None:
        """The pair kept for re-delivery, or the mark of its delivery; None when neither is there."""
        value = self._read(pending_name(user_name), user_name)
        if value is None:
            return None
        remember(value)
        try:
            pair = json.loads(value)
            if "DeliveredDeleteAt" in pair:
                return DeliveredMark(key_id=pair["AccessKeyId"], delete_at=int(pair["DeliveredDeleteAt"]))
            secret = pair["SecretAccessKey"]
            remember(secret)
            return PendingKey(key_id=pair["AccessKeyId"], secret=SecretStr(secret))
        except (ValueError, KeyError, TypeError):
            return None  # not what ikr writes: treat as absent (the key is then rolled back)

    def delete_pending(self, user_name: str) -> None:
        self._delete(pending_name(user_name), user_name)

    def delete(self, user_name: str) -> bool:
        """Remove the user's key; False when there was none."""
        return self._delete(parameter_name(user_name), user_name)

    def delete_with_rotation(self, user_name: str, encryption_key: bool, pending: bool) -> None:
        """Remove, in one DeleteParameters call, the user's key and/or the pending parameter (by then
        the delivery's mark). Absent parameters are no failure: deleting is safe to repeat."""
        names = [parameter_name(user_name)] * encryption_key + [pending_name(user_name)] * pending
        if not names:
            return
        with self._call("DeleteParameters", "delete", user_name, ", ".join(names)):
            self._ssm.delete_parameters(Names=names)

    def _read(self, name: str, user_name: str) -> str | None:
        try:
            with self._call("GetParameter", "read", user_name, name, expected="ParameterNotFound"):
                return self._ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except _Expected:
            return None

    def _delete(self, name: str, user_name: str) -> bool:
        try:
            with self._call("DeleteParameter", "delete", user_name, name, expected="ParameterNotFound"):
                self._ssm.delete_parameter(Name=name)
        except _Expected:
            return False
        return True

    @contextmanager
    def _call(
        self, operation: str, verb: str, user_name: str, name: str, sent_secret: bool = False, expected: str = ""
    ) -> Iterator[None]:
        """One SSM call of this store: the `expected` error code as `_Expected`, failures in ikr's words."""
        try:
            yield
        except ClientError as exc:
            if expected and exc.response["Error"]["Code"] == expected:
                raise _Expected from None
            raise self._error(verb, user_name, exc, name, sent_secret) from None
        except BotoCoreError as exc:
            where = f"account {self._account_id} user {user_name} parameter {name}"
            raise translate(exc, f"ssm:{operation}", where) from exc

    def _error(
        self, verb: str, user_name: str, exc: ClientError, name: str | None = None, sent_secret: bool = False
    ) -> SecretStoreError:
        error = exc.response["Error"]
        # After a write, only the code: a validation message may quote the value sent, the secret.
        reason = error["Code"] if sent_secret else f"{error['Code']}: {error.get('Message', '')}"
        return SecretStoreError(
            f"account {self._account_id} user {user_name}: cannot {verb} SSM parameter "
            f"{name or parameter_name(user_name)}: {reason}"
        )
