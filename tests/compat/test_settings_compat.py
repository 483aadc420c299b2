"""The original's settings: every variable its Terraform sets is accepted with its meaning; a value
it could not use is refused naming the variable, before any AWS call (exit 2); ENCRYPT_KEY_PAIR never
turns encryption off where the original would have encrypted.

The original reads them in `src/creator.py`, `src/destructor.py` and its mailers (v3.6): days and
RETRY_AFTER_MINS through `int()` (a word crashes it), SMTP_PORT handed to smtplib (a word fails every
mail), SMTP_PROTOCOL lower-cased, ENCRYPT_KEY_PAIR off only when exactly "false"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from central.cli.main import main
from central.settings import MailClient, Settings, SmtpProtocol, load_settings
from tests.compat.standalone import SENDER, add_user, created, environment, ikr, key_ids, table

pytestmark = [
    pytest.mark.usefixtures("ikr_logging_restored"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

# The creator's and destructor's environment as the original's Terraform writes it (terraform/main.tf),
# with its variables' defaults and an SMTP mailer.
TERRAFORM = {
    "IAM_KEY_ROTATOR_TABLE": "ikr-expiry",
    "ROTATE_AFTER_DAYS": "85",
    "DELETE_AFTER_DAYS": "5",
    "RETRY_AFTER_MINS": "5",
    "ENCRYPT_KEY_PAIR": "true",
    "MAIL_CLIENT": "smtp",
    "MAIL_FROM": SENDER,
    "SMTP_PROTOCOL": "ssl",
    "SMTP_PORT": "465",
    "SMTP_SERVER": "smtp.example.com",
    "SMTP_PASSWORD_PARAMETER": "/ikr/smtp-password",
    "ACCOUNT_ID": "123456789012",
}


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*Settings.model_fields, "ACCOUNT_ID"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_of_the_originals_terraform_is_read_with_its_meaning(clean: pytest.MonkeyPatch):
    for name, value in TERRAFORM.items():
        clean.setenv(name, value)

    settings: Settings = load_settings()

    assert (settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS, settings.RETRY_AFTER_MINS) == (85, 5, 5)
    assert settings.ENCRYPT_KEY_PAIR is True
    assert settings.MAIL_CLIENT is MailClient.SMTP
    assert (settings.SMTP_PROTOCOL, settings.SMTP_PORT, settings.SMTP_SERVER) == (
        SmtpProtocol.SSL,
        465,
        "smtp.example.com",
    )
    assert settings.SMTP_PASSWORD_PARAMETER == "/ikr/smtp-password"
    assert settings.sender.header == SENDER  # the From header as given
    assert settings.smtp_user == "ikr@example.com"  # the original logged in with MAIL_FROM's address


def test_the_mailgun_variables_and_an_upper_case_protocol_are_read(clean: pytest.MonkeyPatch):
    for name, value in {**TERRAFORM, "MAIL_CLIENT": "mailgun", "SMTP_PROTOCOL": "TLS"}.items():
        clean.setenv(name, value)
    clean.setenv("MAILGUN_API_URL", "https://api.mailgun.net/v3/example.com/messages")
    clean.setenv("MAILGUN_API_KEY_NAME", "/ikr/mailgun-api-key")

    settings: Settings = load_settings()

    assert settings.MAIL_CLIENT is MailClient.MAILGUN
    assert settings.MAILGUN_API_KEY_NAME == "/ikr/mailgun-api-key"
    assert settings.SMTP_PROTOCOL is SmtpProtocol.TLS  # the original lower-cases it


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROTATE_AFTER_DAYS", "ninety"),
        ("DELETE_AFTER_DAYS", "five"),
        ("SMTP_PORT", "smtp"),
        ("RETRY_AFTER_MINS", "soon"),
        ("ACCOUNT_ID", "my-account"),
        ("MAIL_FROM", "IAM Key Rotator"),
        *(("ENCRYPT_KEY_PAIR", word) for word in ("False", "FALSE", "0", "no", "off", "True", "1", "")),
    ],
)
@pytest.mark.parametrize("command", ["rotate", "stream-pump"])
def test_a_value_the_original_could_not_use_is_refused_by_name_before_any_aws_call(
    clean: pytest.MonkeyPatch,
    aws_calls: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    command: str,
    name: str,
    value: str,
):
    for variable, setting in {**TERRAFORM, name: value}.items():
        clean.setenv(variable, setting)
    extra = ["--checkpoint", str(tmp_path / "c.json")] if command == "stream-pump" else []

    code = main([command, *extra])

    err = capsys.readouterr().err
    assert code == 2
    assert name in err
    assert aws_calls == []
    if name == "ENCRYPT_KEY_PAIR":
        assert "exactly true" in err
        assert "or false" in err


def test_encrypt_key_pair_exactly_false_mails_the_pair_in_plain_text(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """As the original: exactly `false` mails the pair in plain text (`true` encrypts it: the
    runbook test in test_rotation_compat.py decrypts such a mail)."""
    from tests.support.servers import SmtpSink

    with SmtpSink() as sink:
        environment(monkeypatch, sink.port, ENCRYPT_KEY_PAIR="false")
        table(central).create()
        (old,) = add_user(central, "plain", {"IKR:EMAIL": "plain@example.com"})
        now = created(central, "plain") + timedelta(days=86, hours=1)
        run = ikr(capsys, "rotate", now=now)
        (mail,) = sink.wait_for(1)

    assert run.code == 0, run.out + run.err
    (new,) = [key for key in key_ids(central, "plain") if key != old]
    assert f"Access Key: {new}\n" in mail.text
