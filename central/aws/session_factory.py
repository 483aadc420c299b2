"""Every boto3 session of the process is made here, on one botocore loader.

A botocore loader decodes the service models and endpoint data (JSON files of several MB) the first
time a client of a service is made from it, and keeps them. A session made the usual way gets a
loader of its own: every new session, and so every member account and every Lambda invocation that
made its sessions afresh, decoded them again (~0.2 s of CPU per client on a cold process). Here one
loader serves the central session and every member session for the life of the process.

Every session also starts from one prepared event emitter. A botocore session registers its ~130
built-in handlers one by one, inspecting each handler's signature (about half of a member account's
session and IAM client, ~13 ms of CPU); here they are registered once and each session gets a copy
(a copy, because clients and boto3 register handlers of their own on their session's emitter).

Sessions are made one at a time: boto3 appends its own data folder to the loader's search path on
every Session, and the list is kept short under the same lock. boto3's guidance is one Session per
thread, which each account gets; what they share is the loader, and its reads are safe from threads.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime
from typing import Any

import boto3
import botocore.handlers
import botocore.loaders
import botocore.session
import botocore.utils
from aws_lambda_powertools import Logger
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, RefreshableCredentials
from botocore.hooks import HierarchicalEmitter

_loader = botocore.loaders.create_loader()
_lock = threading.Lock()
logger = Logger(service="ikr")

# The codes AWS answers a request signed with a session token that has expired (IAM, STS, SSM and the
# query services say ExpiredToken, the JSON services ExpiredTokenException).
EXPIRED_TOKEN_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
_RENEWED = "ikr_expired_token_renewed"  # in a request's context: renewed once for it already
_RENEWED_LATELY_S = 5.0  # a renewal this recent was another thread's answer to the same expiry


class _BuiltinEvents:
    """An emitter holding botocore's built-in handlers, registered as a session registers them.

    Made again whenever the list of built-in handlers changed: moto and the benchmarks' stand-in
    answer requests by adding a handler to that list, and may be imported after this module."""

    def __init__(self) -> None:
        self._made_from: tuple[Any, ...] = ()
        self._emitter = HierarchicalEmitter()

    def copy(self) -> HierarchicalEmitter:
        if self._made_from != tuple(botocore.handlers.BUILTIN_HANDLERS):
            self._made_from = tuple(botocore.handlers.BUILTIN_HANDLERS)
            self._emitter = HierarchicalEmitter()
            botocore.session.Session(event_hooks=self._emitter)
        return copy.copy(self._emitter)


_builtin_events = _BuiltinEvents()  # used under _lock


def shared_loader() -> botocore.loaders.Loader:
    """The process's one loader (for botocore data read outside a client: partitions)."""
    return _loader


def iso_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, fast for the ISO 8601 that AWS's XML answers carry:
    GetAccountAuthorizationDetails of 1,000 users holds a CreateDate each, and botocore's own
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


class _Given(CredentialProvider):
    METHOD = "ikr"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class RenewableCredentials(RefreshableCredentials):
    """Refreshable credentials that can also be renewed at once: AWS refused their token as expired
    although their expiry time had not come (credentials revoked early, a clock ahead of ours, a role
    session shorter than announced). botocore refreshes by the expiry time alone; it never retries
    an ExpiredToken answer."""

    _renewed_at = 0.0

    def renew(self) -> None:
        """Call the refresh (AssumeRole) now; a failure raises as a mandatory refresh does."""
        # botocore's own refresh lock and step (absent from its type stubs): a renewal never
        # overlaps a refresh by expiry time.
        lock: threading.Lock = self._refresh_lock  # type: ignore[attr-defined]
        with lock:
            if time.monotonic() - self._renewed_at < _RENEWED_LATELY_S:
                return  # another thread's request met the same expiry and renewed them
            self._protected_refresh(is_mandatory=True)  # type: ignore[attr-defined]
            self._renewed_at = time.monotonic()


def _renew_on_expired_token(credentials: RenewableCredentials) -> Any:
    """A `needs-retry` handler: an ExpiredToken answer renews the credentials and has the request
    sent again at once (botocore signs every attempt afresh, so with the new token), once a request."""

    def needs_retry(response: Any = None, request_dict: Any = None, operation: Any = None, **_kwargs: Any) -> Any:
        if not isinstance(response, tuple) or len(response) < 2 or not isinstance(request_dict, dict):
            return None
        code = response[1].get("Error", {}).get("Code") if isinstance(response[1], dict) else None
        context = request_dict.setdefault("context", {})
        if code not in EXPIRED_TOKEN_CODES or context.get(_RENEWED):
            return None
        context[_RENEWED] = True
        logger.warning(
            "AWS refused the member credentials as expired; renewed them and sent the request again",
            extra={"operation": getattr(operation, "name", ""), "code": code},
        )
        credentials.renew()
        return 0  # no back-off: the new token is good now

    return needs_retry


def new_session(region_name: str | None = None, credentials: Credentials | None = None) -> boto3.Session:
    """A session on the shared loader that parses timestamps fast: with `credentials` (a member
    account's refreshable ones), else the usual credential chain (environment, profile, role)."""
    with _lock:
        core = botocore.session.Session(event_hooks=_builtin_events.copy(), include_builtin_handlers=False)
        core.register_component("data_loader", _loader)
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=iso_timestamp)
        if credentials is not None:
            # In place of the credential chain: a provider that answers these. Clients take the
            # object and ask it before each request (refreshable ones refresh themselves there).
            core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
        if isinstance(credentials, RenewableCredentials):
            # Every client of the session copies the session's handlers when it is made.
            core.register("needs-retry", _renew_on_expired_token(credentials), unique_id="ikr-renew-expired-token")
        session = boto3.Session(region_name=region_name, botocore_session=core)
        _loader.search_paths[:] = list(dict.fromkeys(_loader.search_paths))  # boto3 appends per Session
    return session
