"""The EventBridge notice sink's pure parts: detail-types, the detail, the fan-out (issue 18.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from central.domain import redaction
from central.notify.event_bus import DETAIL_TYPES, detail_type, event_detail, fallback_detail_type
from central.notify.fan_out import FanOutNotifier, fan_out
from central.notify.notice import Event, Notice, NullNotifier
from tests.support.notices import RecordingNotifier

NOW = datetime(2027, 3, 11, 12, 0, tzinfo=UTC)


def test_every_event_has_its_own_documented_detail_type():
    assert {member.value for member in Event} <= set(DETAIL_TYPES)
    assert len(set(DETAIL_TYPES.values())) == len(DETAIL_TYPES)
    assert detail_type(Event.ROTATION_STARTED) == "IKR Rotation Started"
    assert detail_type(Event.RESTORED) == "IKR Old Key Restored"


def test_an_event_added_later_publishes_under_a_name_made_from_its_value():
    assert fallback_detail_type("key-quarantined") == "IKR Key Quarantined"
    assert detail_type("key-quarantined") == "IKR Key Quarantined"
    assert detail_type("exposure-handled") == "IKR Exposure Handled"  # named ahead of the member


def test_the_detail_has_the_documented_fields_and_leaves_out_what_is_absent():
    notice = Notice(
        event=Event.ROTATED,
        text="ikr rotated ann",
        account_id="111122223333",
        user="ann",
        new_key_id="AKIANEW",
        old_key_id="AKIAOLD",
        at=NOW,
        details={"reason": "on demand", "resumed": False},
    )
    assert event_detail(notice, NOW) == {
        "version": 1,
        "event": "rotated",
        "account": "111122223333",
        "user": "ann",
        "new_key_id": "AKIANEW",
        "old_key_id": "AKIAOLD",
        "occurred_at": "2027-03-11T12:00:00+00:00",
        "at": "2027-03-11T12:00:00+00:00",
        "reason": "on demand",
        "text": "ikr rotated ann",
        "details": {"reason": "on demand", "resumed": False},
    }
    bare = event_detail(Notice(event=Event.RUN_SUMMARY, text="run"), NOW)
    assert set(bare) == {"version", "event", "occurred_at", "text"}


def test_a_secret_the_run_knows_never_reaches_the_detail():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    redaction.remember(secret)
    try:
        notice = Notice(event=Event.DELIVERY_FAILED, text=f"refused: {secret}", details={"reason": f"echo {secret}"})
        detail: dict[str, Any] = event_detail(notice, NOW)
    finally:
        redaction.forget_all()
    assert secret not in str(detail)
    assert redaction.MASK in detail["text"]


def test_the_fan_out_gives_every_channel_every_notice_even_after_one_failed():
    failing, working = RecordingNotifier(answer=False), RecordingNotifier()
    notifier = fan_out(NullNotifier(), failing, working)
    assert isinstance(notifier, FanOutNotifier)
    notice = Notice(event=Event.RESTORED, text="restored")
    assert notifier.notify(notice) is True
    assert failing.notices == [notice]
    assert working.notices == [notice]
    assert isinstance(fan_out(NullNotifier(), NullNotifier()), NullNotifier)
    assert fan_out(NullNotifier(), working) is working
