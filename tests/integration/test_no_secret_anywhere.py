"""The redaction audit: the whole flow at DEBUG (rotation with and without encryption, SMTP with a
password, Mailgun with an API key, a failing mail, a failing key store, destruction with a retry and
a give-up, webhook notices) while every log record, printed line, result text, table item, run report
and notice is kept.
None of them may hold a secret that was created or read: a secret access key (every CreateAccessKey
answer), a Fernet key or pending pair (every SecureString written), the SMTP password, the Mailgun key.
Mails and SSM are where secrets belong; they are not searched, but checked to hold them (so this
test can fail)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from pydantic import SecretStr

from central.aws import clients as aws
from central.clock import fixed_clock
from central.domain.errors import DeliveryError
from central.domain.results import RunResult
from central.domain.summary import run_lines
from central.notify.admin import AdminNotifier
from central.notify.mailers import build_mailer
from central.notify.mailers.base import Mail
from central.notify.webhook import WebhookNotifier
from central.retirement.destroy import DestroyContext, destroy
from central.rotation.run import run_rotation
from central.settings import Settings
from tests.integration.conftest import TABLE, Harness, RecordingMailer, make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.servers import MailgunStandIn, SmtpSink, WebhookSink
from tests.support.world import AccountSpec, OrgSpec, UserSpec

SMTP_PASSWORD = "smtp-pass-7f3a9c1e5b2d4f6a8c0e"
MAILGUN_KEY = "key-mg-4b8d2f6a0c3e5a7b9d1f"
SMTP_PARAMETER = "/ikr/central/smtp-password"
MAILGUN_PARAMETER = "/ikr/central/mailgun-api-key"


def _user(name: str) -> UserSpec:
    return UserSpec(name, {"IKR:EMAIL": f"{name}@example.com"})


SPEC = OrgSpec(
    ous={"Work": {"IKR:ENABLED": "true"}},
    accounts=[
        AccountSpec("enc", "Work", {}, [_user("ann")]),
        AccountSpec("plain", "Work", {}, [_user("pat")]),
        AccountSpec("broken", "Work", {}, [_user("sue"), _user("sid")]),
        AccountSpec("smtp", "Work", {}, [_user("sam")]),
        AccountSpec("gun", "Work", {}, [_user("gus")]),
    ],
)


class PickyMailer(RecordingMailer):
    """Refuses mail to some addresses, as a relay that bounces them."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused = refused

    def send(self, mail: Mail) -> None:
        if mail.to in self.refused:
            raise DeliveryError(f"relay refused {mail.to}")
        super().send(mail)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    ikr = logging.getLogger("ikr")
    level = ikr.level
    ikr.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    ikr.setLevel(level)


def _run(harness: Harness, account: str, printed: list[str], reports: list[str], **settings: Any) -> RunResult:
    harness.settings(**settings)
    result = run_rotation(harness.services, only=[harness.world.account_ids[account]])
    lines = run_lines(result)
    print("\n".join(lines))  # as `ikr rotate` does
    printed.extend(lines)
    reports.append(result.model_dump_json())  # what the rotator Lambda returns
    return result


def _secrets(faults: Faults) -> set[str]:
    found = {SMTP_PASSWORD, MAILGUN_KEY}
    for response in faults.responses("CreateAccessKey"):
        found.add(response["AccessKey"]["SecretAccessKey"])
    for call in faults.calls:
        if call.operation == "PutParameter" and call.params.get("Type") == "SecureString":
            value = call.params["Value"]
            if value.startswith("{") and "SecretAccessKey" not in json.loads(value):
                continue  # a delivery's mark over the pending pair: a key id and a time, no secret
            found.add(value)
            if value.startswith("{"):  # a pending pair: the secret inside too (the key id is no secret)
                found.add(json.loads(value)["SecretAccessKey"])
    return found


def test_no_secret_reaches_logs_output_results_table_or_reports(
    central: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
):
    faults = Faults(monkeypatch)
    aws.configure(Settings(MAIL_FROM="ikr@example.com"))  # what every entry point does first
    harness = make_harness(central, SPEC)
    webhook = WebhookSink()
    harness.services.notifier = WebhookNotifier(lambda: SecretStr(webhook.url))
    harness.services.clock = fixed_clock(LATER)
    ssm = central.client("ssm")
    ssm.put_parameter(Name=SMTP_PARAMETER, Value=SMTP_PASSWORD, Type="SecureString")
    ssm.put_parameter(Name=MAILGUN_PARAMETER, Value=MAILGUN_KEY, Type="SecureString")
    printed: list[str] = []
    reports: list[str] = []
    texts: list[str] = []
    mails: list[Mail] = []

    # Encrypted, plain, and the two delivery failures.
    mailer = PickyMailer({"sue@example.com"})
    harness.services.mailer = mailer
    results = [_run(harness, "enc", printed, reports, ENCRYPT_KEY_PAIR=True)]
    results.append(_run(harness, "plain", printed, reports, ENCRYPT_KEY_PAIR=False))
    broken = harness.world.account_ids["broken"]
    faults.refuse("PutParameter", code="AccessDenied", when=lambda p: p["Name"].startswith("/ikr/secret/iam/sid"))
    results.append(_run(harness, "broken", printed, reports, ENCRYPT_KEY_PAIR=True))
    faults.clear()
    mails.extend(mailer.sent)

    # SMTP with a password (the sink offers no AUTH: the login fails after the password was read).
    with SmtpSink() as sink:
        settings = Settings.model_validate(
            harness.services.settings.model_dump()
            | {
                "MAIL_CLIENT": "smtp",
                "SMTP_SERVER": "127.0.0.1",
                "SMTP_PORT": sink.port,
                "SMTP_PROTOCOL": "plain",
                "SMTP_PASSWORD_PARAMETER": SMTP_PARAMETER,
            }
        )
        harness.services.mailer = build_mailer(settings, central)
        results.append(_run(harness, "smtp", printed, reports, ENCRYPT_KEY_PAIR=False))
    # Mailgun with its API key, delivering a plain pair.
    with MailgunStandIn(api_key=MAILGUN_KEY) as stand_in:
        settings = Settings.model_validate(
            harness.services.settings.model_dump()
            | {"MAIL_CLIENT": "mailgun", "MAILGUN_API_URL": stand_in.url, "MAILGUN_API_KEY_NAME": MAILGUN_PARAMETER}
        )
        harness.services.mailer = build_mailer(settings, central)
        results.append(_run(harness, "gun", printed, reports, ENCRYPT_KEY_PAIR=False))
        gun_mails = list(stand_in.messages)
    texts += [user.detail for result in results for account in result.accounts for user in account.users]

    # Destruction: one retry, one give-up with an admin notice, the rest deleted.
    admin_mailer = RecordingMailer()
    swept = harness.table.sweep(LATER + timedelta(days=30))
    assert len(swept) == 3  # ann, pat, gus
    ctx = DestroyContext(
        broker=harness.services.broker,
        table=harness.table,
        now=LATER + timedelta(days=30),
        retry_after=timedelta(minutes=5),
        max_attempts=2,
        mailer=admin_mailer,
        admin=AdminNotifier(admin_mailer, "admin@example.com"),
        notifier=harness.services.notifier,
    )
    stuck = swept[0].old_key_id
    faults.refuse("DeleteAccessKey", code="AccessDenied", when=lambda p: p["AccessKeyId"] == stuck)
    for item in swept:
        texts.append(destroy(ctx, item, removed_by_ttl=True).detail)
    for item in harness.table.for_account(swept[0].account_id):
        harness.table.remove(item)  # TTL removes the put-back: its REMOVE record is the retry
        texts.append(destroy(ctx, item, removed_by_ttl=True).detail)  # the retry, refused again: given up
    faults.clear()
    mails.extend(admin_mailer.sent)

    # Everything a person or a machine could read, apart from mails and SSM.
    webhook.stop()
    secrets = _secrets(faults) | {webhook.token}
    texts += printed + reports + [json.dumps(body) for body in webhook.received]
    # `responses` is moto's in-process HTTP interception (not in the product): it logs each passed-through URL.
    texts += [f"{r.getMessage()} {r.__dict__}" for r in debug_logs.records if r.name != "responses"]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    raw = central.client("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]
    texts += [str({k: TypeDeserializer().deserialize(v) for k, v in item.items()}) for item in raw]
    haystack = "\n".join(texts)

    assert len(secrets) >= 10  # five new keys, Fernet keys, pending pairs, two settings secrets
    assert len(debug_logs.records) > 20
    assert broken in haystack  # the failures were reported...
    assert "relay refused sue@example.com" in haystack
    assert "AccessDenied" in haystack
    assert "SMTP" in haystack
    assert "gave up after 2 attempts" in haystack
    assert {"rotated", "delivery-failed", "old-key-retired", "destruction-given-up"} <= set(webhook.events())
    leaked = sorted(secret for secret in secrets if secret in haystack)
    assert leaked == [], f"{len(leaked)} secret(s) found outside mails and SSM"
    # ...and the check can bite: the plain mails do carry secrets.
    in_mail = "\n".join([mail.text for mail in mails] + [message["text"] for message in gun_mails])
    assert any(secret in in_mail for secret in secrets)
