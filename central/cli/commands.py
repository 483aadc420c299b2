"""`ikr report`, `ikr plan` and `ikr explain`: their options and their wiring to the use cases.

`central.cli.main` adds these subcommands with `add_parsers` and dispatches to the functions here, so
the reading commands live beside the report they share. Exit codes as every command: 0 all well,
1 some account or user failed (or has a bad tag), 2 bad settings or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from central.cli.progress import Progress
from central.cli.run_printer import RunPrinter
from central.domain.errors import UsageError
from central.report.collect import collect_report, read_user
from central.report.explain import explain, explain_lines
from central.report.render_html import render_html
from central.report.render_text import render_csv, render_json, render_table, summary_line
from central.report.rows import Report
from central.rotation.run import run_rotation
from central.settings import Settings, load_settings
from central.wiring import build_services

OK, FAILED = 0, 1
RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}
# A spreadsheet reads a CSV file as UTF-8 only with the byte-order mark (Excel guesses otherwise).
_FILE_ENCODING = {"csv": "utf-8-sig"}

ArgType = Callable[[str], object]


Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parsers(commands: Subcommands, instant: ArgType, account: ArgType) -> None:
    now_help = "judge as if it were this instant (ISO-8601); default: IKR_NOW or now"

    report = commands.add_parser(
        "report",
        help="org-wide report: every managed key, what happens to it and when, what ikr could not reach",
    )
    report.add_argument("--now", type=instant, help=now_help)
    report.add_argument(
        "--format", choices=sorted(RENDERERS), default="table", help="output format (default: %(default)s)"
    )
    report.add_argument("--out", type=Path, metavar="PATH", help="write the report to this file (default: stdout)")

    plan = commands.add_parser("plan", help="what a run at --now would do, per account and user; changes nothing")
    plan.add_argument("--now", type=instant, help=now_help)
    plan.add_argument(
        "--account", type=account, action="append", default=[], metavar="ID", help="only this account (repeatable)"
    )

    why = commands.add_parser("explain", help="why one user gets its decision, step by step through the tag chain")
    why.add_argument("--account", type=account, required=True, metavar="ID", help="the user's account")
    why.add_argument("--user", required=True, metavar="NAME", help="the IAM user name")
    why.add_argument("--now", type=instant, help=now_help)


def report_command(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    if out is not None and not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    services = build_services(load_settings(), purpose="report", now=args.now, changes_keys=False)
    with Progress("report") as progress:
        report = collect_report(services, progress=progress.for_report())
    text = RENDERERS[args.format](report)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding=_FILE_ENCODING.get(args.format, "utf-8"), newline="")
        print(f"{args.format.upper()} report written to {out.resolve()}")
        print(summary_line(report))
    return FAILED if report.failed else OK


def plan_command(args: argparse.Namespace) -> int:
    """`ikr rotate --dry-run`, by another name: the same run, deciding only."""
    services = build_services(load_settings(), purpose="plan", now=args.now, changes_keys=False)
    printer = RunPrinter()
    with Progress("plan") as progress:
        result = run_rotation(services, dry_run=True, only=args.account, progress=progress.for_rotation(), sink=printer)
    printer.write_to(sys.stdout, result)
    return result.exit_code


def explain_command(args: argparse.Namespace) -> int:
    settings: Settings = load_settings()
    services = build_services(settings, purpose="explain", now=args.now, changes_keys=False)
    facts = read_user(services, args.account, args.user)
    steps = explain(facts, args.user, services.clock(), settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS)
    for line in explain_lines(steps):
        print(line)
    return OK
