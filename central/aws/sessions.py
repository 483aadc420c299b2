"""One place turns an account id into a boto3 session inside that account.

Member accounts are entered with STS AssumeRole into the StackSet-deployed role; the central
account uses its own credentials (a role never needs to trust itself). A refused AssumeRole is that
account's failure, raised as AccountAccessError.

A broker lives as long as its process may use it: a CLI command, or a Lambda execution environment
serving invocation after invocation (`central.wiring.warm_services`). So a member session is kept
for reuse by a later message or invocation, and two things follow:

- Its credentials refresh themselves. AssumeRole's credentials last an hour (role chaining allows no
  more); botocore's `RefreshableCredentials`, as its own assume-role provider uses them, calls
  AssumeRole again 15 minutes before they expire without blocking other threads, and blocks them
  only in the last 10 minutes. The clock is the real one: credentials expire in real time whatever
  `--now` / `IKR_NOW` says. Should AWS refuse a token as expired all the same (`ExpiredToken`,
  `ExpiredTokenException`: credentials revoked early, a clock that disagrees), the session renews
  them at once and sends that request again, once (`central.aws.session_factory.RenewableCredentials`).
- The cache is bounded: at most `keep` sessions (each holds its clients), least recently wanted
  dropped first, and an account `release`d by its run goes to the front of that queue. A run over
  thousands of accounts keeps a few dozen sessions, not one per account.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from central.aws import clients as aws
from central.aws.errors import aws_call, translate
from central.aws.partition import Partition, for_region, of_arn
from central.aws.session_factory import RenewableCredentials, new_session
from central.domain.errors import AccountAccessError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")

Session = boto3.Session  # what use cases name, so only this package imports boto3

# Sessions kept at most. Above the account worker's batch (10 messages) and the default concurrency
# (16 accounts at once); a member session with its IAM and SSM clients holds ~1 MB.
KEEP_SESSIONS = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionBroker:
    def __init__(
        self,
        central: boto3.Session,
        role_name: str,
        external_id: str | None = None,
        purpose: str = "rotate",
        sts: STSClient | None = None,
        *,
        keep: int = KEEP_SESSIONS,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        """`now`: the real clock the credentials' expiry is compared with (tests turn it)."""
        self._central = central
        self._role_name = role_name
        self._external_id = external_id
        self._purpose = purpose
        self._sts = sts or aws.sts(central)
        self._keep = keep
        self._now = now
        self._cache: OrderedDict[str, boto3.Session] = OrderedDict()  # least recently wanted first
        self._lock = threading.Lock()
        self._central_account_id: str | None = None
        self._partition: Partition | None = None

    @property
    def central_session(self) -> boto3.Session:
        return self._central

    @property
    def central_account_id(self) -> str:
        if self._central_account_id is None:
            with aws_call("sts:GetCallerIdentity", "the central account"):
                identity = self._sts.get_caller_identity()
            # The caller's ARN names its partition: member roles are in the same one.
            self._partition = of_arn(str(identity.get("Arn", ""))) or for_region(self._central.region_name)
            self._central_account_id = identity["Account"]
        return self._central_account_id

    @property
    def partition(self) -> Partition:
        """The central account's partition (`aws`, `aws-cn`, `aws-us-gov`), from its identity."""
        if self._partition is None:
            _ = self.central_account_id
        assert self._partition is not None
        return self._partition

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self.partition.name}:iam::{account_id}:role/{self._role_name}"

    def session_for(self, account_id: str) -> boto3.Session:
        if account_id == self.central_account_id:
            return self._central
        with self._lock:
            cached = self._cache.get(account_id)
            if cached is not None:
                self._cache.move_to_end(account_id)
                return cached
        session = new_session(self._central.region_name, self._credentials(account_id))  # AssumeRole unlocked
        with self._lock:
            # Two threads asking for one account at once both assumed: the first one kept is used.
            session = self._cache.setdefault(account_id, session)
            self._cache.move_to_end(account_id)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return session

    def release(self, account_id: str) -> None:
        """An account's work is done for now: its session stays for a later message or invocation,
        but is the first to go when the cache is full (a session still in use elsewhere stays
        usable: dropping it from the cache only means the next `session_for` assumes again)."""
        with self._lock:
            if account_id in self._cache:
                self._cache.move_to_end(account_id, last=False)

    def _credentials(self, account_id: str) -> RenewableCredentials:
        """Credentials that call AssumeRole again before they expire, or at once when AWS refuses
        their token as expired; the first call is made now, so a refused role is this account's
        failure here, not at its first request."""
        first = self._assume(account_id)
        return RenewableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=datetime.fromisoformat(first["expiry_time"]),
            refresh_using=lambda: self._assume(account_id),
            method="assume-role",
            time_fetcher=self._now,
        )

    def _assume(self, account_id: str) -> dict[str, str]:
        """AssumeRole into the account, as botocore's refresh callbacks answer: access_key,
        secret_key, token and expiry_time (ISO 8601)."""
        kwargs: dict[str, str] = {
            "RoleArn": self.role_arn(account_id),
            # CloudTrail in the member account shows who acted and why.
            "RoleSessionName": _SESSION_NAME_UNSAFE.sub("-", f"ikr-{self._purpose}")[:64],
        }
        if self._external_id:
            kwargs["ExternalId"] = self._external_id
        try:
            credentials = self._sts.assume_role(**kwargs)["Credentials"]  # type: ignore[arg-type]
        except ClientError as exc:
            # The cause is the translation, so a caller sees whether a later attempt may get in (`retryable`).
            error = exc.response["Error"]
            raise AccountAccessError(
                account_id, f"cannot assume {self.role_arn(account_id)}: {error['Code']}: {error.get('Message', '')}"
            ) from translate(exc, "sts:AssumeRole", f"account {account_id}")
        except BotoCoreError as exc:
            raise AccountAccessError(account_id, f"cannot assume {self.role_arn(account_id)}: {exc}") from translate(
                exc, "sts:AssumeRole", f"account {account_id}"
            )
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }
