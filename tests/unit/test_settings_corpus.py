"""The settings part of the bad-input corpus: each bad environment stops start-up naming the variable,
and `ikr rotate` with it exits 2 before any AWS call (nothing touched, never an OverflowError); each
bad command line (`--now` out of range) is refused by the argument parser with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from central.cli.main import main
from central.domain.errors import SettingsError
from central.settings import Settings, load_settings

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")

CORPUS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "bad_input.json").read_text())
ITEMS: list[dict[str, Any]] = CORPUS["settings"]
ARGUMENTS: list[dict[str, Any]] = CORPUS["arguments"]
BOUNDED = {
    "ROTATE_AFTER_DAYS",
    "DELETE_AFTER_DAYS",
    "DEACTIVATE_BEFORE_DELETE_DAYS",
    "VERIFY_USE_GRACE_DAYS",
    "RETRY_AFTER_MINS",
    "IKR_MAX_DESTROY_ATTEMPTS",
    "IKR_LEASE_MINUTES",
    "IKR_NOW",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS API call any client makes; none is let through (there is no emulator here)."""
    calls: list[str] = []

    def refuse(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        raise AssertionError(f"AWS call {operation} made with bad settings")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return calls


def test_the_corpus_covers_every_validated_setting():
    named = {word for item in ITEMS for word in item["expect"]}
    assert {"ROTATE_AFTER_DAYS", "DELETE_AFTER_DAYS", "MAIL_CLIENT", "MAIL_FROM", "SMTP_PORT"} <= named
    too_large = {name for item in ITEMS for name, value in item["env"].items() if value == "1" + "0" * 20}
    assert BOUNDED - {"IKR_NOW"} <= too_large  # each bounded number, at 10^20


def test_every_bounded_setting_has_an_upper_bound():
    for name in BOUNDED - {"IKR_NOW"}:
        limits = [getattr(meta, "le", None) for meta in Settings.model_fields[name].metadata]
        assert any(limit is not None for limit in limits), name


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, item: dict[str, Any]):
    for name, value in item["env"].items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    for words in item["expect"]:
        assert words in message


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_ikr_rotate_with_a_bad_setting_exits_2_naming_it_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], aws_calls: list[str], item: dict[str, Any]
):
    for name, value in item["env"].items():
        monkeypatch.setenv(name, value)

    code = main(["rotate"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert all(words in err for words in item["expect"]), err
    assert "Traceback" not in err
    assert "OverflowError" not in err
    assert aws_calls == []


@pytest.mark.parametrize("item", ARGUMENTS, ids=[item["id"] for item in ARGUMENTS])
def test_a_now_argument_out_of_range_is_refused_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], aws_calls: list[str], item: dict[str, Any]
):
    with pytest.raises(SystemExit) as exited:
        main(item["argv"])

    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert all(words in err for words in item["expect"]), err
    assert aws_calls == []


def test_the_settings_corpus_figure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], aws_calls: list[str]
):
    handled = 0
    for item in ITEMS:
        with monkeypatch.context() as patch:
            for name, value in item["env"].items():
                patch.setenv(name, value)
            handled += main(["rotate"]) == 2
    for item in ARGUMENTS:
        with pytest.raises(SystemExit) as exited:
            main(item["argv"])
        handled += exited.value.code == 2
    capsys.readouterr()
    total = len(ITEMS) + len(ARGUMENTS)
    with capsys.disabled():
        print(f"\nsettings corpus items: {total}, handled: {handled}")
    assert (handled, aws_calls) == (total, [])
