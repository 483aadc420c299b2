"""`ikr exposed --account A --key-id AKIA... --found "..."`: a key someone found exposed (a secret
scanner's alert, a pasted log, a person's word) handled exactly as AWS Health's
AWS_RISK_CREDENTIALS_EXPOSED event is (`central.rotation.exposure`): rotated at once, made Inactive at
once, deleted after EXPOSED_DELETE_AFTER_DAYS, the user, the administrator and the consumers told once.

`central.cli.main` adds the subcommand with `add_parser` and dispatches to `exposed_command`. Exit 0
when every key was rotated, made Inactive or had been handled already; 1 when a key was left as it is
for a person (not managed by ikr, unknown, the user's only active key, a failed rotation) or a rotation
of its user is under way (run it again once that finished); 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import getpass
import re
import uuid
from collections.abc import Callable

from central.domain.exposure import Exposure
from central.rotation.exposure import Handled, handle_exposure
from central.settings import load_settings
from central.wiring import build_services

OK, FAILED = 0, 1
_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")
_DONE = frozenset({Handled.ROTATED, Handled.QUARANTINED, Handled.ALREADY_HANDLED})


def _key_id(text: str) -> str:
    if not _KEY_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an access key id (AKIA followed by 16 letters or digits)")
    if text.startswith("ASIA"):
        raise argparse.ArgumentTypeError(
            f"{text} is a temporary key (ASIA...): it expires by itself; revoke its role's sessions instead"
        )
    return text


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], account: Callable[[str], str]) -> None:
    exposed = commands.add_parser(
        "exposed",
        help="handle a key found exposed now, as AWS Health's exposed-key event is handled: rotate, deactivate, tell",
    )
    exposed.add_argument("--account", type=account, required=True, help="the account the key belongs to")
    exposed.add_argument(
        "--key-id", type=_key_id, action="append", required=True, dest="key_ids", help="the exposed key (repeatable)"
    )
    exposed.add_argument(
        "--found", required=True, help="where the key was found: told to the user, the administrator and consumers"
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def exposed_command(args: argparse.Namespace) -> int:
    services = build_services(load_settings(), purpose="rotate")
    now = services.clock()
    exposure = Exposure(
        account_id=args.account,
        key_ids=tuple(dict.fromkeys(args.key_ids)),
        description=args.found.strip()[:2_000],
        event_id=f"cli-{uuid.uuid4().hex[:12]}",
        event_arn="-",
        found_at=f"{now:%Y-%m-%dT%H:%M:%SZ}",
        reported_by=f"`ikr exposed` run by {_login()}",
    )
    handled = handle_exposure(services, exposure)  # a user's rotation under way: ExposureNotFinished, exit 1
    for entry in handled:
        who = f" user {entry.user}" if entry.user else ""
        print(f"account {entry.account_id}{who} key {entry.key_id}: {entry.outcome.value}: {entry.detail}")
    return OK if all(entry.outcome in _DONE for entry in handled) else FAILED
