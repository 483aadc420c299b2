"""Reading one account's IAM for the report and `ikr explain`: users with tags, access keys, the
credential report. Nothing here changes anything. Every failure is an `AwsError` naming the
operation and the account (and user), so the report turns it into that account's row without
knowing AWS's error codes.

Kept apart from the rotation's IAM adapter on purpose for now (issue 15: merged later); the reading
itself is `central.aws.iam_inventory`'s and `central.aws.credential_report`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from central.aws import clients as aws
from central.aws import iam_inventory as inventory
from central.aws.credential_report import DEFAULT_WAIT_SECONDS, CredentialReport, fetch_credential_report
from central.aws.errors import aws_call
from central.domain.model import AccessKey, IamUser
from central.domain.tags import has_email_tag

if TYPE_CHECKING:
    from central.aws.sessions import Session


class IamReader:
    def __init__(self, session: Session, account_id: str) -> None:
        self._iam = aws.iam(session)
        self._account = f"account {account_id}"

    def users(self) -> list[IamUser]:
        """Every IAM user with its tags (keys not filled)."""
        with aws_call("iam:GetAccountAuthorizationDetails", self._account):
            return inventory.all_users(self._iam)

    def keys(self, user_name: str) -> tuple[AccessKey, ...]:
        """The user's access keys, oldest first."""
        with aws_call("iam:ListAccessKeys", f"user {user_name} in {self._account}"):
            return inventory.access_keys(self._iam, user_name)

    def managed_users(self) -> list[IamUser]:
        """The users tagged IKR:EMAIL, each with its access keys."""
        return [
            user.model_copy(update={"keys": self.keys(user.name)}) for user in self.users() if has_email_tag(user.tags)
        ]

    def credential_report(
        self, wait_seconds: float = DEFAULT_WAIT_SECONDS, sleep: Callable[[float], None] = time.sleep
    ) -> CredentialReport:
        """The credential report, generated if need be and waited for (`CredentialReportError` past the wait)."""
        with aws_call("iam:GetCredentialReport", self._account):
            return fetch_credential_report(self._iam, wait_seconds, sleep)
