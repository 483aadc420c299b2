"""The adapters of one member account, made from its session when first needed: most accounts of a
run need IAM alone, and no SSM or Secrets Manager client is built for them."""

from __future__ import annotations

from functools import cached_property

from central.aws.iam import IamAccount
from central.aws.key_stores import KeyPairStore
from central.aws.sessions import Session
from central.aws.ssm_secrets import UserKeyStore


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
