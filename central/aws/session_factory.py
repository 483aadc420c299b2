"""Every boto3 session of the process is made here, on one botocore loader.

A botocore loader decodes the service models and endpoint data (JSON files of several MB) the first
time a client of a service is made from it, and keeps them. A session made the usual way gets a
loader of its own: every new session, and so every member account and every Lambda invocation that
made its sessions afresh, decoded them again (~0.2 s of CPU per client on a cold process). Here one
loader serves the central session and every member session for the life of the process.

Sessions are made one at a time: boto3 appends its own data folder to the loader's search path on
every Session, and the list is kept short under the same lock. boto3's guidance is one Session per
thread, which each account gets; what they share is the loader, and its reads are safe from threads.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials

_loader = botocore.loaders.create_loader()
_lock = threading.Lock()


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


def new_session(region_name: str | None = None, credentials: Credentials | None = None) -> boto3.Session:
    """A session on the shared loader that parses timestamps fast: with `credentials` (a member
    account's refreshable ones), else the usual credential chain (environment, profile, role)."""
    with _lock:
        core = botocore.session.Session()
        core.register_component("data_loader", _loader)
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=iso_timestamp)
        if credentials is not None:
            # In place of the credential chain: a provider that answers these. Clients take the
            # object and ask it before each request (refreshable ones refresh themselves there).
            core.register_component("credential_provider", CredentialResolver([_Given(credentials)]))
        session = boto3.Session(region_name=region_name, botocore_session=core)
        _loader.search_paths[:] = list(dict.fromkeys(_loader.search_paths))  # boto3 appends per Session
    return session
