"""IAM of one account, as the use cases need it: users and their tags, access keys, last use, the
credential report. Every failure comes out as an `AwsError` naming the account, user and key.

`create_access_key` is the one call where not knowing costs something: a key ikr cannot name. Its
error is `uncertain` whenever a key may exist, which is every failure except an answer from AWS that
is not a server error (a 5xx, a lost answer, even a connection never made: only a refusal proves
nothing was made, and the rotation then looks for a key it did not record).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from central.aws import clients
from central.aws import iam_inventory as inventory
from central.aws.credential_report import (
    DEFAULT_WAIT_SECONDS,
    CredentialReport,
    fetch_credential_report,
    start_credential_report,
)
from central.aws.errors import aws_call, translate
from central.domain.model import AccessKey, KeyStatus
from central.domain.redaction import remember

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

    from central.aws.iam_inventory import ListedUser
    from central.aws.sessions import Session


@dataclass(frozen=True)
class NewAccessKey:
    key_id: str
    secret: SecretStr


@dataclass(frozen=True)
class KeyUse:
    """A key's last use as IAM records it (IAM's record lags by up to hours)."""

    at: datetime
    service: str
    region: str


class IamAccount:
    def __init__(self, iam: IAMClient, account_id: str) -> None:
        self._iam = iam
        self.account_id = account_id

    @classmethod
    def of(cls, session: Session, account_id: str) -> IamAccount:
        return cls(clients.iam(session), account_id)

    def where(self, user_name: str | None = None, key_id: str | None = None) -> str:
        parts = [f"account {self.account_id}"]
        if user_name is not None:
            parts.append(f"user {user_name}")
        if key_id is not None:
            parts.append(f"key {key_id}")
        return " ".join(parts)

    # -- users --------------------------------------------------------------------------------------
    def listed_users(self, managed_only: bool = False) -> list[ListedUser]:
        with aws_call("iam:GetAccountAuthorizationDetails", self.where()):
            return inventory.listed_users(self._iam, managed_only)

    def tag_user(self, user_name: str, tags: Sequence[tuple[str, str]]) -> None:
        with aws_call("iam:TagUser", self.where(user_name)):
            self._iam.tag_user(UserName=user_name, Tags=[{"Key": key, "Value": value} for key, value in tags])

    # -- access keys --------------------------------------------------------------------------------
    def access_keys(self, user_name: str) -> tuple[AccessKey, ...]:
        """The user's keys, oldest first; AwsNotFound when the user does not exist."""
        with aws_call("iam:ListAccessKeys", self.where(user_name)):
            return inventory.access_keys(self._iam, user_name)

    def create_access_key(self, user_name: str) -> NewAccessKey:
        operation, where = "iam:CreateAccessKey", self.where(user_name)
        try:
            created = self._iam.create_access_key(UserName=user_name)["AccessKey"]
        except ClientError as exc:
            error = translate(exc, operation, where)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            error.uncertain = error.uncertain or status >= 500  # a 5xx throttle too: it does not prove a no
            raise error from exc
        except BotoCoreError as exc:
            error = translate(exc, operation, where)
            error.uncertain = True
            raise error from exc
        remember(created["SecretAccessKey"])  # scrubbed from any text that comes back from outside
        return NewAccessKey(created["AccessKeyId"], SecretStr(created["SecretAccessKey"]))

    def delete_access_key(self, user_name: str, key_id: str) -> None:
        """AwsNotFound when the key (or its user) is gone already."""
        with aws_call("iam:DeleteAccessKey", self.where(user_name, key_id)):
            self._iam.delete_access_key(UserName=user_name, AccessKeyId=key_id)

    def deactivate_access_key(self, user_name: str, key_id: str) -> None:
        """AwsNotFound when the key (or its user) is gone."""
        with aws_call("iam:UpdateAccessKey", self.where(user_name, key_id)):
            self._iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status=KeyStatus.INACTIVE.value)

    def activate_access_key(self, user_name: str, key_id: str) -> None:
        """`ikr restore`: the old key back in use. AwsNotFound when the key (or its user) is gone."""
        with aws_call("iam:UpdateAccessKey", self.where(user_name, key_id)):
            self._iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status=KeyStatus.ACTIVE.value)

    def last_used(self, key_id: str, user_name: str | None = None) -> KeyUse | None:
        """When the key was last used (None: never); AwsNotFound when the key is gone."""
        with aws_call("iam:GetAccessKeyLastUsed", self.where(user_name, key_id)):
            answer = self._iam.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed", {})
        used_at = answer.get("LastUsedDate")
        if used_at is None:
            return None
        return KeyUse(at=used_at, service=answer.get("ServiceName", "?"), region=answer.get("Region", "?"))

    def owner_of(self, key_id: str) -> str | None:
        """The user a key id belongs to in this account (IAM's GetAccessKeyLastUsed names it); None when
        IAM names no user. AwsNotFound (or AwsAccessDenied, as IAM answers for a key of another
        account) when the key is not this account's."""
        with aws_call("iam:GetAccessKeyLastUsed", self.where(key_id=key_id)):
            answer = self._iam.get_access_key_last_used(AccessKeyId=key_id)
        name = answer.get("UserName")
        return name if isinstance(name, str) and name else None

    def account_alias(self) -> str | None:
        """The account's IAM alias (an account has at most one), None when it has none."""
        with aws_call("iam:ListAccountAliases", self.where()):
            aliases = self._iam.list_account_aliases().get("AccountAliases", [])
        return aliases[0] if aliases else None

    # -- the credential report ----------------------------------------------------------------------
    def start_credential_report(self) -> str:
        """Ask IAM to build a report (see `central.aws.credential_report`); its State."""
        with aws_call("iam:GenerateCredentialReport", self.where()):
            return start_credential_report(self._iam)

    def credential_report(
        self,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        started: str | None = None,
        users: Collection[str] | None = None,
    ) -> CredentialReport:
        """The report once IAM has built it; CredentialReportError when it cannot be had."""
        with aws_call("iam:GetCredentialReport", self.where()):
            return fetch_credential_report(self._iam, wait_seconds, sleep, started=started, users=users)
