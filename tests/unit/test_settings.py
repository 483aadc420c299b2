"""The settings model: the original tool's names and defaults, and start-up errors naming the variable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from central.domain.errors import SettingsError
from central.settings import AccessSettings, MailClient, Settings, SmtpProtocol, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")


def test_defaults_match_the_original_tool():
    settings: Settings = load_settings()

    assert settings.ROTATE_AFTER_DAYS == 85
    assert settings.DELETE_AFTER_DAYS == 5
    assert settings.ENCRYPT_KEY_PAIR is True
    assert settings.MAIL_CLIENT is MailClient.SES
    assert settings.RETRY_AFTER_MINS == 5
    assert settings.SMTP_PORT == 465
    assert settings.SMTP_PROTOCOL is SmtpProtocol.SSL
    assert settings.IKR_NOW is None


def test_values_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ROTATE_AFTER_DAYS", "30")
    monkeypatch.setenv("DELETE_AFTER_DAYS", "2")
    monkeypatch.setenv("ENCRYPT_KEY_PAIR", "false")
    monkeypatch.setenv("MAIL_CLIENT", "smtp")
    monkeypatch.setenv("SMTP_SERVER", "mail.example.com")
    monkeypatch.setenv("SMTP_PORT", "587")
    monkeypatch.setenv("SMTP_PROTOCOL", "tls")

    settings: Settings = load_settings()

    assert (settings.ROTATE_AFTER_DAYS, settings.DELETE_AFTER_DAYS) == (30, 2)
    assert settings.ENCRYPT_KEY_PAIR is False
    assert settings.MAIL_CLIENT is MailClient.SMTP
    assert (settings.SMTP_SERVER, settings.SMTP_PORT, settings.SMTP_PROTOCOL) == (
        "mail.example.com",
        587,
        SmtpProtocol.TLS,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROTATE_AFTER_DAYS", "ninety"),
        ("ROTATE_AFTER_DAYS", "0"),
        ("DELETE_AFTER_DAYS", "-1"),
        ("RETRY_AFTER_MINS", "0"),
        ("ENCRYPT_KEY_PAIR", "perhaps"),
        ("MAIL_CLIENT", "pigeon"),
        ("SMTP_PROTOCOL", "x"),
        ("SMTP_PORT", "70000"),
        ("IKR_NOW", "garbage"),
        ("MAIL_FROM", "not-an-address"),
        ("IAM_KEY_ROTATOR_TABLE", "bad table name!"),
    ],
)
def test_a_bad_value_is_a_settings_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith("invalid settings: ")
    assert f"{variable}: " in message


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "MAIL_FROM"),
        ({"MAIL_FROM": "ikr@example.com", "MAIL_CLIENT": "smtp"}, "SMTP_SERVER"),
        ({"MAIL_FROM": "ikr@example.com", "MAIL_CLIENT": "mailgun"}, "MAILGUN_API_URL"),
        (
            {"MAIL_FROM": "ikr@example.com", "MAIL_CLIENT": "mailgun", "MAILGUN_API_URL": "https://api.example.com"},
            "MAILGUN_API_KEY_NAME",
        ),
    ],
    ids=["no MAIL_FROM", "smtp without server", "mailgun without url", "mailgun without key name"],
)
def test_a_missing_setting_is_a_settings_error_naming_it(monkeypatch: pytest.MonkeyPatch, env, named):
    monkeypatch.delenv("MAIL_FROM")
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ROTATE_AFTER_DAYS", "ninety")
    monkeypatch.setenv("MAIL_CLIENT", "pigeon")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert "ROTATE_AFTER_DAYS: " in str(raised.value)
    assert "MAIL_CLIENT: " in str(raised.value)


def test_smtp_user_defaults_to_mail_from(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAIL_CLIENT", "smtp")
    monkeypatch.setenv("SMTP_SERVER", "mail.example.com")

    assert load_settings().smtp_user == "ikr@example.com"

    monkeypatch.setenv("SMTP_USER", "relay-user")
    assert load_settings().smtp_user == "relay-user"


def test_ikr_now_without_a_zone_is_utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IKR_NOW", "2027-03-01T12:00:00")

    now = load_settings(Settings).IKR_NOW

    assert now is not None
    assert now.utcoffset() == timedelta(0)
    assert now == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_ikr_now_keeps_its_zone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IKR_NOW", "2027-03-01T12:00:00+02:00")

    now = load_settings(Settings).IKR_NOW

    assert now == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    assert now is not None
    assert now.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)


def test_access_settings_need_no_mail_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MAIL_FROM")
    monkeypatch.setenv("IAM_KEY_ROTATOR_TABLE", "my-table")

    settings = load_settings(AccessSettings)

    assert settings.IAM_KEY_ROTATOR_TABLE == "my-table"
    assert settings.IKR_MEMBER_ROLE_NAME == "ikr-member"


def test_no_secret_is_a_setting_only_the_name_of_its_ssm_parameter():
    secret_like = [name for name in Settings.model_fields if any(w in name for w in ("PASSWORD", "API_KEY", "SECRET"))]

    assert secret_like
    assert all(name.endswith(("_PARAMETER", "_NAME")) for name in secret_like)


def test_the_misnamed_access_key_age_of_the_original_readme_is_refused_unless_it_agrees(monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv("ACCESS_KEY_AGE", "30")

    with pytest.raises(SettingsError, match=r"ACCESS_KEY_AGE=30 is not read .* set ROTATE_AFTER_DAYS"):
        load_settings()

    monkeypatch.setenv("ROTATE_AFTER_DAYS", "30")
    assert load_settings().ROTATE_AFTER_DAYS == 30


def test_later_settings_have_safe_defaults():
    settings: Settings = load_settings()

    assert settings.IKR_MAX_DESTROY_ATTEMPTS == 10
    assert settings.DEACTIVATE_BEFORE_DELETE_DAYS == 0  # the original behaviour: delete at once
    assert settings.IKR_CONCURRENCY == 16
    assert settings.IKR_ACCOUNT_QUEUE_URL is None
    assert settings.ADMIN_EMAIL is None
    assert settings.IKR_AWS_MAX_ATTEMPTS == 8
    assert settings.IKR_AWS_RETRY_MODE.value == "standard"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IKR_MAX_DESTROY_ATTEMPTS", "0"),
        ("DEACTIVATE_BEFORE_DELETE_DAYS", "-1"),
        ("IKR_CONCURRENCY", "0"),
        ("ADMIN_EMAIL", "not-an-address"),
        ("IKR_AWS_MAX_ATTEMPTS", "0"),
        ("IKR_AWS_RETRY_MODE", "legacy"),
    ],
)
def test_bad_later_settings_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_the_webhook_url_is_a_secret_and_never_echoed(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "ftp://hooks.example.com/T0KEN")

    with pytest.raises(SettingsError, match="NOTIFY_WEBHOOK_URL must be an https") as raised:
        load_settings()

    assert "T0KEN" not in str(raised.value)
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.com/T0KEN")
    settings: Settings = load_settings()
    assert "T0KEN" not in repr(settings)


def test_one_webhook_source_at_a_time(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.com/T0KEN")
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL_PARAMETER", "/ikr/central/webhook-url")

    with pytest.raises(SettingsError, match="not both"):
        load_settings()
