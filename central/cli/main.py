"""`ikr`: thin wiring from command-line arguments to the use cases. Exit 0 all well, 1 some account
or user failed, 2 bad settings or usage."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import create_model

from central import __version__
from central.aws import clients as aws
from central.aws.entry_failures import untranslated_aws_failures
from central.aws.expiry_table import ExpiryTable
from central.aws.iam import IamAccount
from central.aws.sessions import SessionBroker
from central.aws.ssm_secrets import UserKeyStore, parameter_name
from central.cli import commands as reading
from central.cli import exposed as exposing
from central.cli import migrate as migrating
from central.cli import on_demand
from central.cli import restore as restoring
from central.cli.progress import Progress
from central.cli.run_printer import RunPrinter
from central.deploy import command as deploying
from central.deploy import options as deploy_options
from central.deploy import packaging
from central.domain import bounds, crypto
from central.domain.errors import IkrError, SettingsError, UsageError
from central.domain.mailed_values import mailed_values
from central.notify.run_notices import notify_failures, tell_the_run
from central.rotation.run import run_rotation
from central.settings import AccessSettings, Settings, load_settings
from central.startup import settle_garbage_collector
from central.tagging import tag_users as tagging
from central.wiring import build_services, run_clock

OK, FAILED, BAD_USAGE = 0, 1, 2
# The role AWS Organizations creates in every account it creates: what an administrator uses.
ADMIN_ROLE = "OrganizationAccountAccessRole"


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 instant, e.g. 2027-03-01T12:00:00Z") from None
    try:  # ikr adds up to a century to it: keep that within datetime's range
        return bounds.check_now(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _concurrency(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 256):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 256")
    return int(text)


def _account_id(text: str) -> str:
    if not (len(text) == 12 and text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 12-digit AWS account id")
    return text


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ikr", description="Rotate IAM user access keys across an AWS Organization.")
    top.add_argument("--version", action="version", version=f"ikr {__version__}")
    top.add_argument(
        "--log-level",
        default=os.environ.get("IKR_LOG_LEVEL", "CRITICAL"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="JSON log lines on stderr from this level (default: IKR_LOG_LEVEL or none; "
        "the printed summary already names every failure)",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("bootstrap", help="create the expiry table (stream and TTL on), idempotently")

    rotate = commands.add_parser("rotate", help="one rotator run: discover, sweep, rotate every opted-in account")
    rotate.add_argument(
        "--now",
        type=_instant,
        help="act as if it were this instant (ISO-8601); default: IKR_NOW or now. Against real AWS only with "
        "--dry-run or IKR_ALLOW_CLOCK_OVERRIDE=1 (an emulator in AWS_ENDPOINT_URL needs neither)",
    )
    rotate.add_argument("--dry-run", action="store_true", help="decide and print, change nothing")
    rotate.add_argument(
        "--account", type=_account_id, action="append", default=[], metavar="ID", help="only this account (repeatable)"
    )
    rotate.add_argument(
        "--concurrency",
        type=_concurrency,
        metavar="N",
        help="accounts worked at once (1-256; default: IKR_CONCURRENCY or 16); the output is the same for any N",
    )
    on_demand.add_arguments(rotate)

    retry = commands.add_parser(
        "retry",
        help="one retry run: failed deletions and postponed rotations now due (what the retry schedule runs)",
    )
    retry.add_argument(
        "--now",
        type=_instant,
        help="act as if it were this instant (ISO-8601); default: IKR_NOW or now (same rule as `ikr rotate`)",
    )

    lease = commands.add_parser(
        "end-lease",
        help="end the lease of a rotation whose run you know is dead: the next run resumes or undoes it",
    )
    lease.add_argument("--account", type=_account_id, required=True, help="the user's account")
    lease.add_argument("--user", required=True, help="the IAM user whose rotation is in progress")
    lease.add_argument("--run", help="only if held by this run id (as `ikr rotate` printed it)")

    pump = commands.add_parser("stream-pump", help="feed the expiry table's stream to the destructor, as Lambda would")
    pump.add_argument(
        "--checkpoint",
        type=Path,
        default=Path(".ikr-stream-checkpoint.json"),
        help="file remembering how far the stream was read (default: %(default)s)",
    )
    pump.add_argument(
        "--now",
        type=_instant,
        help="the destructor's clock (ISO-8601); default: IKR_NOW or now. Against real AWS only with "
        "IKR_ALLOW_CLOCK_OVERRIDE=1 (not needed against an emulator in AWS_ENDPOINT_URL)",
    )

    decrypt = commands.add_parser("decrypt", help="decrypt an encrypted key id or secret from a rotation mail")
    decrypt.add_argument("--user", required=True, help="the IAM user the mail was for")
    decrypt.add_argument(
        "--account",
        type=_account_id,
        help="read the user's key from this account through the member role "
        "(default: the account of your own credentials)",
    )
    decrypt.add_argument(
        "--role",
        default=ADMIN_ROLE,
        help="role to assume with --account (default: %(default)s; the ikr member role "
        "trusts only the central Lambdas)",
    )
    decrypt.add_argument("ciphertext", nargs="*", help="values to decrypt (default: one per line on stdin)")

    tag = commands.add_parser("tag-users", help="tag IAM users from a JSON file (iam-user-tags.json shape)")
    tag.add_argument("file", type=Path)
    tag.add_argument("--dry-run", action="store_true", help="check the file and print what would be tagged")
    tag.add_argument(
        "--role",
        default=ADMIN_ROLE,
        help="role to assume in the accounts of a file grouped by account id (default: %(default)s; "
        "the ikr member role may not change tags)",
    )
    reading.add_parsers(commands, instant=_instant, account=_account_id)
    migrating.add_parser(commands, account=_account_id, admin_role=ADMIN_ROLE)
    restoring.add_parser(commands, account=_account_id)
    exposing.add_parser(commands, account=_account_id)
    packaging.add_package_arguments(
        commands.add_parser("package", help="build the Lambda artifact (code + dependencies for its runtime)")
    )
    deploy_options.add_deploy_arguments(
        commands.add_parser("deploy", help="upload the artifact, deploy the central stack and the member-role StackSet")
    )
    return top


def _route_logs(level: str) -> None:
    """Powertools logs JSON to stdout for Lambda; at a terminal stdout is for the summary."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = level  # for loggers made later, e.g. the destructor's
    log = logging.getLogger("ikr")
    log.setLevel(level)
    for handler in log.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    settle_garbage_collector()
    args = parser().parse_args(argv)
    _route_logs(args.log_level)
    try:
        with untranslated_aws_failures():  # missing credentials: a SettingsError
            return int(_COMMANDS[args.command](args))
    except (SettingsError, UsageError) as exc:
        print(f"ikr: {exc}", file=sys.stderr)
        return BAD_USAGE
    except IkrError as exc:
        print(f"ikr: {exc}", file=sys.stderr)
        return FAILED


def _external_id(role: str, settings: AccessSettings) -> str | None:
    """The ExternalId belongs to the member role's trust; other roles are assumed without it."""
    return settings.IKR_EXTERNAL_ID if role == settings.IKR_MEMBER_ROLE_NAME else None


def _bootstrap(args: argparse.Namespace) -> int:
    settings: AccessSettings = load_settings(AccessSettings)
    aws.configure(settings)
    table = ExpiryTable(aws.dynamodb(aws.default_session()), settings.IAM_KEY_ROTATOR_TABLE)
    created = table.create()
    print(f"expiry table {table.name} {'created' if created else 'already there'}; stream {table.stream_arn()}")
    return OK


def _rotate(args: argparse.Namespace) -> int:
    # A turned clock is refused here (exit 2) unless dry, emulated or allowed: see central.clock.
    services = build_services(load_settings(), purpose="rotate", now=args.now, changes_keys=not args.dry_run)
    printer = RunPrinter()  # each account's lines spooled as its turn comes; the run keeps folded rows
    with Progress("rotate") as progress:  # stderr: a live line at a terminal, else a line per account
        result = run_rotation(
            services,
            dry_run=args.dry_run,
            only=args.account,
            progress=progress.for_rotation(),
            concurrency=args.concurrency,
            sink=printer,
        )
    printer.write_to(sys.stdout, result)
    notify_failures(services.admin, result)  # one notice for a run with failures; none for a dry run
    tell_the_run(services.notifier, result)  # the webhook, when set, gets every run's summary
    return result.exit_code


def _retry(args: argparse.Namespace) -> int:
    from central.rotation.retry import retry_lines, run_retries  # noqa: PLC0415 - only this command needs it

    services = build_services(load_settings(), purpose="rotate", now=args.now)
    result = run_retries(services)
    for line in retry_lines(result):
        print(line)
    return result.exit_code


def _end_lease(args: argparse.Namespace) -> int:
    from central.rotation.end_lease import end_lease  # noqa: PLC0415 - only this command needs it

    settings: AccessSettings = load_settings(AccessSettings)
    aws.configure(settings)
    table = ExpiryTable(aws.dynamodb(aws.default_session()), settings.IAM_KEY_ROTATOR_TABLE)
    table.check()
    for item in end_lease(table, args.account, args.user, args.run):
        print(
            f"ended the lease of run {item.run_id or '?'} on the rotation of {item.user_name} in account "
            f"{item.account_id} (state {item.state.value}, old key {item.old_key_id}); the next `ikr rotate` "
            "resumes or undoes it"
        )
    return OK


def _stream_pump(args: argparse.Namespace) -> int:
    from central.aws.stream_pump import Checkpoint, pump  # noqa: PLC0415 - only this command needs it
    from central.retirement.destroy import DestroyContext  # noqa: PLC0415
    from central.retirement.stream_batch import destroy_batch  # noqa: PLC0415

    if not args.checkpoint.parent.is_dir():
        raise UsageError(f"--checkpoint {args.checkpoint}: folder {args.checkpoint.parent} does not exist")
    settings: Settings = load_settings()
    aws.configure(settings)
    session = aws.default_session()
    # The destructor deletes keys: a turned clock is refused before the stream is read, not per batch.
    run_clock(settings, session, args.now, changes_keys=True)

    def destructor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """What the destructor Lambda does with a batch, with fresh collaborators per batch as per invocation;
        the outcome counts are CloudWatch's metrics, not a terminal's."""
        services = build_services(settings, session, purpose="destroy", now=args.now)
        return destroy_batch(event, context, DestroyContext.from_services(services), Counter())

    table = ExpiryTable(aws.dynamodb(session), settings.IAM_KEY_ROTATOR_TABLE)
    result = pump(aws.dynamodbstreams(session), table.stream_arn(), destructor, Checkpoint(args.checkpoint))
    print(
        f"stream-pump: {result.records} record(s) in {result.batches} batch(es) handed to the destructor, "
        f"{result.failed} left for a retry"
    )
    return FAILED if result.failed else OK


def _decrypt(args: argparse.Namespace) -> int:
    settings: AccessSettings = load_settings(AccessSettings)
    aws.configure(settings)
    central = aws.default_session()
    if args.account:
        broker = SessionBroker(central, args.role, _external_id(args.role, settings), purpose="decrypt")
        session, where = broker.session_for(args.account), f"account {args.account}"
    else:
        session, where = central, "this account"
    key = UserKeyStore(aws.ssm(session), args.account or "self").get(args.user)
    if key is None:
        if not args.account:
            where = f"this account ({SessionBroker(central, ADMIN_ROLE).central_account_id})"
        raise UsageError(
            f"{where} has no SSM parameter {parameter_name(args.user)} in region {session.region_name}: the key "
            "was never made, was removed with the old access key, or lives in another region (set AWS_REGION "
            "to the region the rotator runs in)"
        )
    text = "\n".join(args.ciphertext) if args.ciphertext else sys.stdin.read()
    # A pasted mail, ikr's or the original tool's: each encrypted value in it, with its label.
    found = mailed_values(text)
    if found:
        for mailed in found:
            plain = crypto.decrypt(key, mailed.token)
            print(f"{mailed.label}: {plain}" if mailed.label else plain)
        return OK
    values = text.split()
    if not values:
        raise UsageError("give the encrypted values as arguments or one per line on stdin (or paste the mail)")
    for value in values:
        print(crypto.decrypt(key, value))
    return OK


# tag-users judges IKR:DELIVERY against DELIVERY_PREFIX as the scan does, without needing mail settings.
_TaggingSettings = create_model(
    "TaggingSettings", __base__=AccessSettings, DELIVERY_PREFIX=(str, Settings.model_fields["DELIVERY_PREFIX"])
)


def _tag_users(args: argparse.Namespace) -> int:
    settings = load_settings(_TaggingSettings)
    entries = tagging.load(args.file, delivery_prefix=settings.model_dump()["DELIVERY_PREFIX"])
    if not entries:
        print(f"tag-users: no users in the file {args.file}; nothing to tag")
        return OK
    aws.configure(settings)
    central = aws.default_session()
    broker = SessionBroker(central, args.role, _external_id(args.role, settings), purpose="tag-users")

    def iam_for(account_id: str | None) -> IamAccount:
        return IamAccount.of(central if account_id is None else broker.session_for(account_id), account_id or "self")

    failures = tagging.apply(entries, iam_for, args.dry_run, print)
    print(
        f"tag-users: {len(entries) - failures} of {len(entries)} user(s) "
        f"{'would be tagged' if args.dry_run else 'tagged'}"
    )
    return FAILED if failures else OK


_COMMANDS = {
    "bootstrap": _bootstrap,
    "rotate": on_demand.or_else(_rotate),
    "retry": _retry,
    "end-lease": _end_lease,
    "stream-pump": _stream_pump,
    "decrypt": _decrypt,
    "tag-users": _tag_users,
    "report": reading.report_command,
    "plan": reading.plan_command,
    "explain": reading.explain_command,
    "import-original": migrating.import_command,
    "restore": restoring.restore_command,
    "exposed": exposing.exposed_command,
    "package": packaging.package,
    "deploy": deploying.deploy,
}


if __name__ == "__main__":
    sys.exit(main())
