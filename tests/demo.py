"""`make demo`: the whole ikr flow on your machine, no AWS account needed.

A moto server plays AWS (Organizations, IAM, STS, SSM, DynamoDB and its stream), a small SMTP server
catches the mails. The real `ikr` command runs against both, exactly as you could run it yourself.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from tests.support.servers import MotoServer, SmtpSink, env_for, ikr_command
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

TODAY = datetime.now(UTC).replace(microsecond=0)
DAY_100 = (TODAY + timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
DAY_110 = (TODAY + timedelta(days=110)).strftime("%Y-%m-%dT%H:%M:%SZ")
DAY_111 = (TODAY + timedelta(days=111)).strftime("%Y-%m-%dT%H:%M:%SZ")
MACHINE = "nightly-export"
MACHINE_SECRET = "ikr/analytics/nightly-export"
BAD_TAG_USER = "legacy-sync"

SPEC = OrgSpec(
    ous={
        "Production": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "90"},
        "Sandbox": {},  # no IKR:ENABLED anywhere above its accounts: ikr leaves them alone
    },
    accounts=[
        AccountSpec(
            "payments",
            "Production",
            {},
            [
                UserSpec(
                    "ci-deployer",
                    {
                        "IKR:EMAIL": "deploy-team@example.com",
                        "IKR:INSTRUCTION_0": "Paste the new pair into the CI secret AWS_DEPLOY_KEY.",
                        "IKR:INSTRUCTION_1": "Then re-run the last pipeline.",
                    },
                ),
                UserSpec("reporting-bot", {"IKR:EMAIL": "data-team@example.com", "IKR:ROTATE_AFTER_DAYS": "365"}),
                UserSpec(BAD_TAG_USER, {"IKR:EMAIL": "ops@example.com", "IKR:ROTATE_AFTER_DAYS": "ninety"}),
                UserSpec("break-glass", {}),  # no IKR:EMAIL: not managed by ikr
            ],
        ),
        AccountSpec(
            "web-shop",
            "Production",
            {"IKR:DELETE_AFTER_DAYS": "3"},  # this account's old keys go 3 days after rotation, not 5
            [UserSpec("uploader", {"IKR:EMAIL": "web@example.com"})],
        ),
        AccountSpec(
            "analytics",
            "Production",
            {},
            # A machine: its key goes to Secrets Manager, and its old key waits until the new one is used.
            [
                UserSpec(
                    MACHINE, {"IKR:EMAIL": "data-team@example.com", "IKR:DELIVERY": f"secretsmanager:{MACHINE_SECRET}"}
                )
            ],
        ),
        AccountSpec("playground", "Sandbox", {}, [UserSpec("experimenter", {"IKR:EMAIL": "lab@example.com"})]),
    ],
)

# Shown to the reader as `export` lines: what ikr reads (PATH and the like are left out).
_SHOWN = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "IAM_KEY_ROTATOR_TABLE",
    "MAIL_CLIENT",
    "MAIL_FROM",
    "SMTP_SERVER",
    "SMTP_PORT",
    "SMTP_PROTOCOL",
)


class Unexpected(Exception):
    """Something the demo did not foresee: it says what and exits 1."""


_STEP = itertools.count(1)


def section(title: str, *explanation: str, numbered: bool = True) -> None:
    heading = f"{next(_STEP)}. {title}" if numbered else title
    print(f"\n== {heading} " + "=" * max(3, 96 - len(heading)))
    for paragraph in explanation:
        print(textwrap.fill(paragraph, width=100))


@dataclass
class Demo:
    moto: MotoServer
    sink: SmtpSink
    workdir: Path
    world: World | None = None

    def __post_init__(self) -> None:
        self.env = env_for(self.moto.url, self.sink.port, IAM_KEY_ROTATOR_TABLE="ikr-expiry")
        self._iam: dict[str, Any] = {}

    # -- helpers --------------------------------------------------------------------------------
    def ikr(self, *args: str, expect: int = 0, why: str = "") -> list[str]:
        """Run the real `ikr`, print its output, check its exit code. Returns the printed lines."""
        print(f"\n$ {shlex.join(['ikr', *args])}")
        done = subprocess.run(
            [*ikr_command(), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        # Powertools Metrics writes its CloudWatch (EMF) JSON to stdout too: not for a reader.
        lines = [line for line in done.stdout.splitlines() if not line.startswith("{")]
        logs = len(done.stdout.splitlines()) - len(lines)
        for line in lines:
            print(f"  {line}")
        for line in done.stderr.splitlines():
            print(f"  (stderr) {line}")
        if logs:
            print(f"  ({logs} JSON line(s) meant for CloudWatch hidden)")
        if done.returncode != expect:
            raise Unexpected(f"`ikr {args[0]}` exited {done.returncode}, expected {expect}")
        print(f"  -> exit code {done.returncode}" + (f": {why}" if why else ""))
        return lines

    def iam(self, account_name: str) -> Any:
        assert self.world is not None
        if account_name not in self._iam:
            self._iam[account_name] = self.world.iam(account_name)
        return self._iam[account_name]

    def managed_users(self) -> list[tuple[str, str]]:
        return [
            (account.name, user.name)
            for account in SPEC.accounts
            for user in account.users
            if any(key.upper() == "IKR:EMAIL" for key in user.tags)
        ]

    def keys(self) -> dict[tuple[str, str], list[str]]:
        found = {}
        for account, user in self.managed_users():
            metadata = self.iam(account).list_access_keys(UserName=user)["AccessKeyMetadata"]
            found[account, user] = [key["AccessKeyId"] for key in sorted(metadata, key=lambda k: k["CreateDate"])]
        return found

    def show_keys(self, keys: dict[tuple[str, str], list[str]]) -> None:
        for (account, user), ids in keys.items():
            print(f"  {account:<11} {user:<14} {', '.join(ids) or '(no key)'}")

    # -- the story ------------------------------------------------------------------------------
    def run(self) -> None:
        section(
            "Two stand-ins",
            f"A moto server pretends to be AWS at {self.moto.url}. "
            f"A small SMTP server on 127.0.0.1:{self.sink.port} catches every mail ikr sends.",
        )
        self.build()
        self.show_environment()
        section("Set up", "`ikr bootstrap` creates the table that remembers each old key until it is deleted.")
        self.ikr("bootstrap")
        before = self.keys()
        section("The keys today", "Every user tagged IKR:EMAIL, and the access key ids each has right now:")
        self.show_keys(before)
        self.rotate()
        mails = self.show_mails()
        self.decrypt(mails)
        self.show_machine_key()
        middle = self.keys()
        section("The keys after rotation", "Rotated users now have two keys: the old one still works for a while.")
        self.show_keys(middle)
        self.clean_up()
        self.machine_switches()
        self.show_result(before, middle, self.keys())
        self.report()

    def build(self) -> None:
        # world.py's boto3 clients find the emulator through the same variables ikr reads.
        os.environ.update({name: value for name, value in self.env.items() if name.startswith("AWS_")})
        os.environ.pop("AWS_PROFILE", None)
        self.world = build_world(boto3.Session(region_name="us-east-1"), SPEC)
        section(
            "A pretend AWS Organization",
            "Accounts opt in with the tag IKR:ENABLED=true on themselves or on an OU above them. Users opt in "
            "with IKR:EMAIL (where the new key is mailed); other IKR: tags change the days or add instructions.",
        )
        print(f"  management account {self.world.management_id} (master), not opted in")
        for ou, tags in SPEC.ous.items():
            print(f"  OU {ou:<10} {_tags(tags) or '(no tags: not opted in)'}")
            for account in (a for a in SPEC.accounts if a.ou == ou):
                account_id = self.world.account_ids[account.name]
                print(f"    account {account.name} {account_id} {_tags(account.tags)}".rstrip())
                for user in account.users:
                    print(f"      user {user.name:<14} {_tags(user.tags) or '(no tags: not managed)'}")

    def show_environment(self) -> None:
        section(
            "Settings",
            "ikr reads its settings from the environment. To repeat any command below yourself while the demo "
            "runs, set these first (the AWS keys are the emulator's fakes):",
        )
        for name in _SHOWN:
            print(f"  export {name}={shlex.quote(self.env[name])}")

    def rotate(self) -> None:
        section(
            "Rotate, 100 days from now",
            "--now makes ikr act as if it were that day, so today's keys look 100 days old. Keys older than 90 "
            "days (the Production OU's IKR:ROTATE_AFTER_DAYS) get a new key, mailed to the owner; the old key is "
            "scheduled for deletion a few days later (IKR:DELETE_AFTER_DAYS, default 5).",
            f"Expect exit code 1: user {BAD_TAG_USER} has IKR:ROTATE_AFTER_DAYS=ninety, which is not a number; ikr "
            "names it, skips that user and goes on with the others.",
        )
        self.ikr("rotate", "--now", DAY_100, expect=1, why=f"expected, because of {BAD_TAG_USER}'s bad tag")

    def show_mails(self) -> list[Any]:
        section(
            "The mails",
            "Each rotated user's owner gets one mail. The new key pair is encrypted with a key kept for that "
            "user in the account's SSM Parameter Store, so the mail alone is not enough to use it.",
        )
        mails = self.sink.wait_for(3)
        for mail in mails:
            print(f"\n  To:      {mail.to}\n  From:    {mail.sender}\n  Subject: {mail.subject}\n")
            for line in mail.text.splitlines():
                print(textwrap.fill(line, width=100, initial_indent="  | ", subsequent_indent="  |   ") or "  |")
        if len(mails) != 3:
            raise Unexpected(f"the SMTP sink got {len(mails)} mails, expected 3")
        return mails

    def machine_pair(self) -> dict[str, str]:
        assert self.world is not None
        secrets = self.world.session(self.world.account_ids["analytics"]).client("secretsmanager")
        pair: dict[str, str] = json.loads(secrets.get_secret_value(SecretId=MACHINE_SECRET)["SecretString"])
        return pair

    def show_machine_key(self) -> None:
        section(
            "A machine user",
            f"{MACHINE} is tagged IKR:DELIVERY=secretsmanager:{MACHINE_SECRET}: its new pair went into that "
            "secret in its own account, where the nightly job reads it; its owner's mail above says where, "
            "without the secret. IKR:VERIFY_USE is on by default for a store: the old key will go only once "
            "the new one has been used.",
        )
        pair = self.machine_pair()
        print(f"  secret {MACHINE_SECRET}: AccessKeyId={pair['AccessKeyId']}, SecretAccessKey=(hidden)")
        if pair["AccessKeyId"] not in self.keys()["analytics", MACHINE]:
            raise Unexpected("the key in the secret is not one of the machine user's keys")

    def machine_switches(self) -> None:
        assert self.world is not None
        if len(self.keys()["analytics", MACHINE]) != 2:
            raise Unexpected(f"{MACHINE}'s old key should still be there: its new key was never used")
        waiting = [m for m in self.sink.messages if m.subject.startswith(f"Waiting for {MACHINE}")]
        section(
            "The machine has not switched yet",
            f"{MACHINE}'s old key is past its deletion time, but its new key was never used, so the destructor "
            f"kept the old one, looks again each day, and told the owner ({len(waiting)} mail: "
            f"{waiting[0].subject if waiting else 'none'}).",
            "Now the nightly job reads the secret and makes its first call with the new key; IAM records that "
            "use. The next day's run and destructor let the old key go.",
        )
        pair = self.machine_pair()
        sts = boto3.client(
            "sts",
            aws_access_key_id=pair["AccessKeyId"],
            aws_secret_access_key=pair["SecretAccessKey"],
            aws_session_token="",
        )
        print(f"  the job calls STS as {sts.get_caller_identity()['Arn']}")
        # Only the analytics account: the emulator stamps keys with today's date, so from day 111 the keys
        # rotated on day 100 would look due again elsewhere.
        self.ikr("rotate", "--now", DAY_111, "--account", self.world.account_ids["analytics"])
        self.ikr("stream-pump", "--now", DAY_111, "--checkpoint", str(self.workdir / "stream-checkpoint.json"))

    def decrypt(self, mails: list[Any]) -> None:
        assert self.world is not None
        mail = next(m for m in mails if "ci-deployer" in m.subject)
        found = re.search(r"^Access Key: (gAAAA\S+)$", mail.text, re.MULTILINE)
        if found is None:
            raise Unexpected("the mail to ci-deployer has no encrypted access key id")
        section(
            "Decrypt",
            "The owner decrypts the values from the mail with `ikr decrypt` (here from the management account "
            "through OrganizationAccountAccessRole, as an administrator would; the owner would use their own "
            "credentials in that account):",
        )
        account = self.world.account_ids["payments"]
        lines = self.ikr("decrypt", "--user", "ci-deployer", "--account", account, found.group(1))
        if lines[-1] not in self.keys()["payments", "ci-deployer"]:
            raise Unexpected(f"decrypted {lines[-1]!r} is not one of ci-deployer's keys")
        print("  -> that is ci-deployer's new access key id")

    def clean_up(self) -> None:
        section(
            "110 days from now: old keys go",
            "The deletion dates have passed. The next scheduled run removes the expired entries from the table "
            "(on AWS, DynamoDB's time-to-live does this too).",
        )
        self.ikr("rotate", "--now", DAY_110, expect=1, why=f"{BAD_TAG_USER}'s tag is still bad")
        print(
            "\n"
            + textwrap.fill(
                "The rotated users show 'pending': their old keys still exist, the run only took them off the "
                "table. Deleting them is the destructor's job, next.",
                width=100,
            )
        )
        checkpoint = self.workdir / "stream-checkpoint.json"
        print(
            "\n"
            + textwrap.fill(
                "Each removal appears on the table's stream. On AWS the stream wakes the destructor Lambda, which "
                "deletes the old key in the user's account; here `ikr stream-pump` reads the stream and calls the "
                "same handler.",
                width=100,
            )
        )
        self.ikr("stream-pump", "--now", DAY_110, "--checkpoint", str(checkpoint))

    def show_result(
        self,
        before: dict[tuple[str, str], list[str]],
        middle: dict[tuple[str, str], list[str]],
        after: dict[tuple[str, str], list[str]],
    ) -> None:
        section("Before and after", "Per user: the keys at the start, after rotation, and now.")
        gone_as_planned = True
        for (account, user), start in before.items():
            end = after[account, user]
            if end == start:
                verdict = "unchanged"
            elif start[0] not in end and len(end) == 1 and end[0] in middle[account, user]:
                verdict = "rotated: old key deleted, new key kept"
            else:
                verdict, gone_as_planned = "UNEXPECTED", False
            print(f"  {account:<11} {user:<14} {', '.join(start)}  ->  {', '.join(end)}   {verdict}")
        if not gone_as_planned:
            raise Unexpected("some keys did not end as planned")
        rotated = sum(1 for key in before if after[key] != before[key])
        if rotated != 3:
            raise Unexpected(f"{rotated} users rotated, expected 3 (ci-deployer, uploader, {MACHINE})")

    def report(self) -> Path:
        """The last step: the org-wide report as one HTML file, kept after the demo ends."""
        path = Path(__file__).resolve().parents[1] / ".demo" / "ikr-report.html"
        path.parent.mkdir(exist_ok=True)
        section(
            "The report",
            "`ikr report` shows every account and managed key: what happens to it next and when, where each "
            "number of days came from, which accounts ikr leaves alone, and untagged users with old keys. Seen "
            "from 110 days ahead with no run in between, the keys made today are due again; legacy-sync's bad tag "
            "needs a person; break-glass has an old key and no IKR:EMAIL. Formats: table, csv, json, html.",
        )
        self.ikr("report", "--now", DAY_110, "--format", "html", "--out", str(path), expect=1, why="legacy-sync's tag")
        if "<svg" not in path.read_text(encoding="utf-8"):
            raise Unexpected(f"{path} has no chart")
        print(f"\n  The HTML report is at {path} (open it in a browser; it needs no network)")
        return path


def _tags(tags: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in tags.items())


def main() -> int:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ikr-demo-"))  # the stream checkpoint lives here
    try:
        # The context managers stop both stand-ins however the story ends.
        with MotoServer() as moto, SmtpSink() as sink:
            Demo(moto, sink, workdir).run()
    except Unexpected as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print("\nDEMO FAILED: see the error above", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    section(
        "Done",
        f"The whole flow took {time.monotonic() - started:.0f} seconds; both stand-ins are stopped. "
        "Run `make test` for the test suite.",
        numbered=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
