"""`ikr import-original`: its options and its wiring (`central.migration.import_original`).

`central.cli.main` adds the subcommand with `add_parser` and dispatches to `import_command`. Exit 0
when every item was taken over, was there already or its key is gone; 1 when an item could not be
read or a call failed for a user (a rerun picks those up); 2 bad settings or usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryTable
from central.aws.iam import IamAccount
from central.aws.original_table import DEFAULT_NAME, OriginalTable
from central.aws.sessions import SessionBroker
from central.migration.import_original import import_original, print_result
from central.settings import AccessSettings, load_settings
from central.wiring import run_clock

OK, FAILED = 0, 1


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], account: Callable[[str], str], admin_role: str
) -> None:
    take = commands.add_parser(
        "import-original",
        help="take over aws-iam-key-rotator's pending deletions: its table's old keys become ikr expiry items",
    )
    take.add_argument(
        "--table",
        default=DEFAULT_NAME,
        help="the original's DynamoDB table (its IAM_KEY_ROTATOR_TABLE; default: %(default)s)",
    )
    take.add_argument(
        "--account",
        type=account,
        metavar="ID",
        help="the account the original ran in, reached through --role (default: the account of your credentials)",
    )
    take.add_argument(
        "--role",
        default=admin_role,
        help="role to assume with --account (default: %(default)s; the ikr member role cannot read the table)",
    )
    take.add_argument("--dry-run", action="store_true", help="read and print what would be taken over; write nothing")


def import_command(args: argparse.Namespace) -> int:
    settings: AccessSettings = load_settings(AccessSettings)
    aws.configure(settings)
    central = aws.default_session()
    # ikr's own table first: IAM_KEY_ROTATOR_TABLE still naming the original's table is refused here.
    table = ExpiryTable(aws.dynamodb(central), settings.IAM_KEY_ROTATOR_TABLE)
    table.check()
    external_id = settings.IKR_EXTERNAL_ID if args.role == settings.IKR_MEMBER_ROLE_NAME else None
    broker = SessionBroker(central, args.role, external_id, purpose="import-original")
    account_id = args.account or broker.central_account_id
    session = broker.session_for(account_id)
    source = OriginalTable(aws.dynamodb(session), args.table)
    source.check()
    now = run_clock(settings, central, changes_keys=False)()  # an item's due time is only reported against it
    result = import_original(
        source.items(), source.name, account_id, IamAccount.of(session, account_id), table, now, args.dry_run
    )
    print_result(result, args.dry_run, print)
    return FAILED if result.failed else OK
