"""`ikr restore`: its options and its wiring (`central.retirement.restore`).

`central.cli.main` adds the subcommand with `add_parser` and dispatches to `restore_command`. Exit 0
when the old key is active and its retirement postponed (also when a repeat finds that done); 1 when
the key or its item changed meanwhile or an AWS call failed; 2 when the restore is refused (unknown
user, no pending old key, a key already deleted, an exposed key without --force) or for bad usage.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable

from central.domain import bounds
from central.retirement.restore import RestoreRequest, restore
from central.settings import load_settings
from central.wiring import build_services

OK = 0


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= bounds.MAX_DAYS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days from 1 to {bounds.MAX_DAYS}")
    return int(text)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], account: Callable[[str], str]) -> None:
    back = commands.add_parser(
        "restore",
        help="roll a rotation back: re-activate the user's old key and postpone its deletion",
    )
    back.add_argument("--account", type=account, required=True, help="the user's account")
    back.add_argument("--user", required=True, help="the IAM user whose old key comes back")
    back.add_argument(
        "--days",
        type=_days,
        help="the old key's retirement starts this many days later (default: DELETE_AFTER_DAYS)",
    )
    back.add_argument("--reason", help="why, recorded on the expiry item, in the report and in the event")
    back.add_argument("--force", action="store_true", help="restore it even though the key was exposed")


def _login() -> str:
    """Who runs the command, as the item records it (a container may have no login name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def restore_command(args: argparse.Namespace) -> int:
    services = build_services(load_settings(), purpose="restore")
    request = RestoreRequest(
        account_id=args.account,
        user=args.user,
        days=args.days,
        reason=args.reason,
        by=f"cli:{_login()}",
        force=args.force,
    )
    print(restore(services, request).line)
    return OK
