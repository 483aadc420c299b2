"""`ikr rotate --account A [--user U] --now-due --reason "..."`: a rotation asked for now, regardless of
key age (`central.rotation.on_demand`).

`central.cli.main` adds these options to `ikr rotate` with `add_arguments` and hands a run with any
of them to `command` (through `or_else`). Exit codes as every command: 0 the users asked for were
rotated (or, for an account, rotated or skipped with a reason); 1 a rotation failed (or, for an
account, a user has a bad tag); 2 bad usage or
a refusal (unknown account or user, not opted in, two keys, a rotation in progress, an old key still
pending deletion).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from central.cli.run_printer import RunPrinter
from central.domain.errors import UsageError
from central.domain.on_demand import check_reason
from central.notify.run_notices import notify_failures
from central.rotation.on_demand import OnDemand, rotate_on_demand
from central.settings import load_settings
from central.wiring import build_services


def add_arguments(rotate: argparse.ArgumentParser) -> None:
    rotate.add_argument(
        "--now-due",
        action="store_true",
        help="rotate now regardless of key age: --user of the one --account, or every opted-in user of it "
        "(needs --reason)",
    )
    rotate.add_argument("--user", metavar="NAME", help="with --now-due: only this IAM user of the --account")
    rotate.add_argument(
        "--reason", metavar="TEXT", help="with --now-due: why (recorded in the journal, the report and the notices)"
    )


def or_else(scheduled: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`ikr rotate`: this module's command when any of its options is given, else the scheduled run."""

    def rotate(args: argparse.Namespace) -> int:
        if args.now_due or args.user is not None or args.reason is not None:
            return command(args)
        return scheduled(args)

    return rotate


def command(args: argparse.Namespace) -> int:
    request = _request(args)
    services = build_services(load_settings(), purpose="rotate", now=args.now, changes_keys=not args.dry_run)
    result = rotate_on_demand(services, request)
    printer = RunPrinter()
    printer.start(result)
    result.accounts = [printer.row(row) for row in result.accounts]
    printer.write_to(sys.stdout, result)
    notify_failures(services.admin, result)
    return result.exit_code


def _request(args: argparse.Namespace) -> OnDemand:
    if not args.now_due:
        raise UsageError("--user and --reason go with --now-due (a rotation asked for now)")
    if len(args.account) != 1:
        raise UsageError("--now-due needs exactly one --account (the account of the user or users to rotate)")
    if args.reason is None:
        raise UsageError('--now-due needs --reason "..." (why the key is rotated now; it is recorded and reported)')
    try:
        reason = check_reason(args.reason)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return OnDemand(account_id=args.account[0], user=args.user, reason=reason, dry_run=args.dry_run)
