"""One place turns an account id into a boto3 session inside that account.

Member accounts are entered with STS AssumeRole into the StackSet-deployed role; the central
account uses its own credentials (a role never needs to trust itself). Sessions are cached for the
run; a refused AssumeRole is that account's failure, raised as AccountAccessError.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.exceptions import BotoCoreError, ClientError

from central.aws import clients as aws
from central.aws.errors import aws_call, translate
from central.domain.errors import AccountAccessError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")

Session = boto3.Session  # what use cases name, so only this package imports boto3


def iso_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser for member sessions, fast for the ISO 8601 that AWS's XML answers
    carry: GetAccountAuthorizationDetails of 1,000 users holds a CreateDate each, and botocore's own
    parser (dateutil) spent half the CPU of a steady-state scan on them. Anything else (epoch
    numbers, RFC 822, no zone) goes to botocore's parser, so the results are the same."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed
    moment: datetime = botocore.utils.parse_timestamp(value)
    return moment


class SessionBroker:
    def __init__(
        self,
        central: boto3.Session,
        role_name: str,
        external_id: str | None = None,
        purpose: str = "rotate",
        sts: STSClient | None = None,
    ) -> None:
        self._central = central
        self._role_name = role_name
        self._external_id = external_id
        self._purpose = purpose
        self._sts = sts or aws.sts(central)
        self._cache: dict[str, boto3.Session] = {}
        self._lock = threading.Lock()
        self._central_account_id: str | None = None
        self._loader = botocore.loaders.create_loader()

    @property
    def central_session(self) -> boto3.Session:
        return self._central

    @property
    def central_account_id(self) -> str:
        if self._central_account_id is None:
            with aws_call("sts:GetCallerIdentity", "the central account"):
                self._central_account_id = self._sts.get_caller_identity()["Account"]
        return self._central_account_id

    def role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self._role_name}"

    def session_for(self, account_id: str) -> boto3.Session:
        if account_id == self.central_account_id:
            return self._central
        with self._lock:
            cached = self._cache.get(account_id)
        if cached is not None:
            return cached
        session = self._assume(account_id)
        with self._lock:
            self._cache[account_id] = session
        return session

    def _assume(self, account_id: str) -> boto3.Session:
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
        # Accounts are worked on threads. boto3's guidance is one Session per thread, which each
        # account gets; what they share is the loader, whose search path every new Session appends
        # to, so sessions are made one at a time (a few milliseconds; AssumeRole stays outside).
        with self._lock:
            core = botocore.session.Session()
            # One loader for every member session: each new session would otherwise decode the
            # service models and endpoint data again (~0.2 s of CPU per account and client).
            core.register_component("data_loader", self._loader)
            core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=iso_timestamp)
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self._central.region_name,
                botocore_session=core,
            )
            # boto3 appends its data folder to the loader per session: keep the list short
            self._loader.search_paths[:] = list(dict.fromkeys(self._loader.search_paths))
        return session

    def release(self, account_id: str) -> None:
        """Forget an account's session once its work is done: over thousands of accounts a kept
        session and its clients per account would hold gigabytes (its clients go with it)."""
        with self._lock:
            self._cache.pop(account_id, None)
