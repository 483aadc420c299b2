"""Admin notices: mailed when ADMIN_EMAIL is set, logged always, never fatal when mail is down."""

from __future__ import annotations

import pytest

from central.domain.errors import DeliveryError
from central.notify.admin import AdminNotifier
from central.notify.mailers.base import Mail, Mailer


class Box(Mailer):
    name = "box"

    def __init__(self, down: bool = False) -> None:
        self.sent: list[Mail] = []
        self.down = down

    def send(self, mail: Mail) -> None:
        if self.down:
            raise DeliveryError("relay refused")
        self.sent.append(mail)


def test_a_notice_goes_to_the_admin_address():
    box = Box()

    assert AdminNotifier(box, "admin@example.com").notify("destruction given up", ["account 1: user a"]) is True

    assert [(m.to, m.subject) for m in box.sent] == [("admin@example.com", "[ikr] destruction given up")]
    assert "account 1: user a" in box.sent[0].text


def test_without_an_address_it_is_only_logged(caplog: pytest.LogCaptureFixture):
    box = Box()

    assert AdminNotifier(box, None).notify("run had failures", ["2 accounts failed"]) is False

    assert box.sent == []
    assert [r.getMessage() for r in caplog.records] == ["admin notice: run had failures"]


def test_mail_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture):
    assert AdminNotifier(Box(down=True), "admin@example.com").notify("x", ["y"]) is False

    assert [r.getMessage() for r in caplog.records] == ["admin notice: x", "admin notice not mailed"]
