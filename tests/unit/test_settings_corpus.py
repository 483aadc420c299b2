"""The settings part of the bad-input corpus: each bad environment stops start-up naming the variable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from central.errors import SettingsError
from central.settings import Settings, load_settings

ITEMS: list[dict[str, Any]] = json.loads((Path(__file__).parents[1] / "data" / "bad_input.json").read_text())[
    "settings"
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")


def test_the_corpus_covers_every_validated_setting():
    named = {word for item in ITEMS for word in item["expect"]}
    assert {"ROTATE_AFTER_DAYS", "DELETE_AFTER_DAYS", "MAIL_CLIENT", "MAIL_FROM", "SMTP_PORT"} <= named


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch, item: dict[str, Any]):
    for name, value in item["env"].items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    for words in item["expect"]:
        assert words in message
