"""The adapters of one member account, made from its session when first needed: most accounts of a
run need IAM alone, and no SSM or Secrets Manager client is built for them."""

from __future__ import annotations

from functools import cached_property

from aws_lambda_powertools import Logger

from central.aws.errors import AwsError
from central.aws.iam import IamAccount
from central.aws.key_stores import KeyPairStore
from central.aws.sessions import Session
from central.aws.ssm_secrets import UserKeyStore

logger = Logger(service="ikr")


class MemberAccount:
    def __init__(self, session: Session, account_id: str) -> None:
        self._session = session
        self.account_id = account_id

    @cached_property
    def iam(self) -> IamAccount:
        return IamAccount.of(self._session, self.account_id)

    @cached_property
    def user_keys(self) -> UserKeyStore:
        """The users' encryption keys and pending key pairs in the account's SSM."""
        return UserKeyStore.of(self._session, self.account_id)

    @cached_property
    def key_pairs(self) -> KeyPairStore:
        """The stores IKR:DELIVERY names (Secrets Manager, SSM)."""
        return KeyPairStore(self._session, self.account_id)

    @cached_property
    def alias(self) -> str:
        """The IAM account alias the mails name the account by ("" when it has none), asked once per
        account and run. Not worth a failed delivery: a refused call is logged and reads as none."""
        try:
            return self.iam.account_alias() or ""
        except AwsError as exc:
            logger.warning("account alias not read", extra={"account_id": self.account_id, "reason": str(exc)})
            return ""
