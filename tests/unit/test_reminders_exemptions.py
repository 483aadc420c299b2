"""Pure parts of reminders (REMIND_BEFORE_DAYS) and exemptions (IKR:EXEMPT_UNTIL): tag parsing, the
reminder window around the due date, the exemption's end, the reminder's words and the report's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from central.aws.reminders import Reminder, is_reminder
from central.domain import tags as t
from central.domain.exemption import Exemption, read_exemption
from central.domain.model import Account
from central.domain.policy import Action, PendingOld, decide
from central.domain.reminder import in_window, remind_days, remind_from
from central.notify.reminder_mail import ReminderNotice, reminder_mail
from central.report.ahead import csv_wanted, exempt_next, exemption_row, reminder_rows, text_sections
from central.report.rows import Report, Summary
from central.settings import Settings
from tests.unit.factories import NOW, account_scope, key, user

OLD_ID = "AKIAOLD0000000000001"


# --- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "days"), [("0", 0), ("7", 7), ("36500", 36_500)])
def test_reminder_days_take_zero_to_turn_reminders_off(value, days):
    assert t.parse_reminder_days(t.REMIND_BEFORE_DAYS, value) == days


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "IKR:REMIND_BEFORE_DAYS='-1' is not a whole number of days (0 turns reminders off)"),
        ("seven", "IKR:REMIND_BEFORE_DAYS='seven' is not a whole number of days (0 turns reminders off)"),
        ("7.5", "IKR:REMIND_BEFORE_DAYS='7.5' is not a whole number of days (0 turns reminders off)"),
        ("00", "IKR:REMIND_BEFORE_DAYS='00' must be between 1 and 36500 days"),
        ("36501", "IKR:REMIND_BEFORE_DAYS='36501' must be between 1 and 36500 days"),
    ],
)
def test_bad_reminder_days_are_named_with_tag_and_value(value, message):
    with pytest.raises(t.TagProblem, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        t.parse_reminder_days(t.REMIND_BEFORE_DAYS, value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2027-02-30", "IKR:EXEMPT_UNTIL='2027-02-30' is not a date of the calendar"),
        ("31.12.2027", "IKR:EXEMPT_UNTIL='31.12.2027' is not a date written YYYY-MM-DD"),
        ("2027-1-5", "IKR:EXEMPT_UNTIL='2027-1-5' is not a date written YYYY-MM-DD"),
        ("2027-01-05T00:00", "IKR:EXEMPT_UNTIL='2027-01-05T00:00' is not a date written YYYY-MM-DD"),
        ("", "IKR:EXEMPT_UNTIL='' is not a date written YYYY-MM-DD"),
        ("9999-12-31", "IKR:EXEMPT_UNTIL='9999-12-31' lies beyond the year 2999"),
    ],
)
def test_bad_exemption_dates_are_named_with_tag_and_value(value, message):
    with pytest.raises(t.TagProblem) as raised:
        read_exemption({t.EXEMPT_UNTIL: value})
    assert str(raised.value).startswith(message)
    assert raised.value.key == t.EXEMPT_UNTIL


def test_an_exemption_reads_its_reason_and_none_without_the_date():
    assert read_exemption({t.EXEMPT_REASON: "why"}) is None
    assert read_exemption({t.EXEMPT_UNTIL: "2025-03-31", t.EXEMPT_REASON: "  audit  "}) == Exemption(
        until=date(2025, 3, 31), reason="audit"
    )


def test_the_new_tags_are_known_user_tags():
    values = {t.EMAIL: "a@example.com", t.REMIND_BEFORE_DAYS: "3", t.EXEMPT_UNTIL: "2025-04-01", t.EXEMPT_REASON: "x"}
    assert t.unknown_user_keys(values) == []


# --- the exemption's end ------------------------------------------------------------------------


def test_the_exemption_includes_its_last_day_in_utc():
    exemption = Exemption(until=date(2025, 3, 1), reason="audit")
    assert exemption.ends_at == datetime(2025, 3, 2, tzinfo=UTC)
    assert exemption.active(datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC))
    assert not exemption.active(datetime(2025, 3, 2, tzinfo=UTC))


def test_an_exemption_warns_without_reason_when_long_and_when_lapsed():
    assert Exemption(until=date(2025, 5, 1), reason="audit").warnings(NOW) == ()
    assert Exemption(until=date(2025, 5, 1)).warnings(NOW) == (
        "exemption through 2025-05-01 has no reason: set IKR:EXEMPT_REASON",
    )
    (long,) = Exemption(until=date(2025, 6, 1), reason="audit").warnings(NOW)
    assert long == "exemption through 2025-06-01 runs 92 more days, longer than 90"
    (lapsed,) = Exemption(until=date(2025, 2, 1)).warnings(NOW)
    assert lapsed.startswith("exemption lapsed: IKR:EXEMPT_UNTIL=2025-02-01 is past")


def test_an_exempt_user_is_skipped_with_its_key_and_due_date_kept():
    old = key(OLD_ID, age_days=100)
    exempt = user(old, extra={"IKR:EXEMPT_UNTIL": "2025-03-01", "IKR:EXEMPT_REASON": "migration"})

    decision = decide(exempt, account_scope(rotate=90), NOW, [])

    assert decision.action is Action.SKIP
    assert decision.exempt is True
    assert decision.bad_input is False
    assert decision.key == old
    assert decision.due_at == old.created + timedelta(days=91)
    assert decision.reason == (
        f"exempt through 2025-03-01 (IKR:EXEMPT_UNTIL): migration; key {OLD_ID} is 100 days old; "
        "rotate after 90 days (setting ROTATE_AFTER_DAYS)"
    )
    assert exempt_next(decision)["next_action_at"] == datetime(2025, 3, 2, tzinfo=UTC)


def test_a_lapsed_exemption_rotates_and_an_old_key_pending_deletion_is_not_held_back():
    old = key(OLD_ID, age_days=100)
    lapsed = decide(user(old, extra={"IKR:EXEMPT_UNTIL": "2025-02-28"}), account_scope(rotate=90), NOW, [])
    assert lapsed.action is Action.ROTATE
    assert lapsed.exempt is False
    assert lapsed.exemption == Exemption(until=date(2025, 2, 28))

    pending = [PendingOld(key_id=OLD_ID, expires_at=NOW + timedelta(days=1))]
    exempt = user(old, key("AKIANEW0000000000002", age_days=1), extra={"IKR:EXEMPT_UNTIL": "2025-12-31"})
    assert decide(exempt, account_scope(rotate=90), NOW, pending).action is Action.PENDING


def test_a_bad_exemption_date_skips_the_user_as_bad_input():
    decision = decide(user(key(age_days=100), extra={"IKR:EXEMPT_UNTIL": "soon"}), account_scope(rotate=90), NOW, [])
    assert decision.action is Action.SKIP
    assert decision.bad_input is True
    assert decision.reason == "IKR:EXEMPT_UNTIL='soon' is not a date written YYYY-MM-DD"


# --- the reminder window ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "days", "expected"),
    [
        (timedelta(days=84), 7, True),  # due at 91 days: the window opens at 84
        (timedelta(days=84) - timedelta(seconds=1), 7, False),
        (timedelta(days=91) - timedelta(seconds=1), 7, True),  # the last second before due
        (timedelta(days=91), 7, False),  # due: the rotation tells the user itself
        (timedelta(days=88), 0, False),  # 0: off
        (timedelta(days=2), 89, True),
    ],
)
def test_a_key_is_in_the_window_from_days_before_due_until_due(age, days, expected):
    decision = decide(user(key(OLD_ID, age_days=0, now=NOW - age)), account_scope(rotate=90), NOW, [])
    assert in_window(decision, NOW, days) is expected


def test_the_user_tag_overrides_the_setting_and_an_exempt_user_is_never_in_the_window():
    young = key(OLD_ID, age_days=80)
    tagged = decide(user(young, extra={"IKR:REMIND_BEFORE_DAYS": "20"}), account_scope(rotate=90), NOW, [])
    assert remind_days(tagged, 7) == 20
    assert in_window(tagged, NOW, 7) is True
    assert tagged.due_at is not None
    assert remind_from(tagged.due_at, 20) == young.created + timedelta(days=71)
    off = decide(user(young, extra={"IKR:REMIND_BEFORE_DAYS": "0"}), account_scope(rotate=90), NOW, [])
    assert in_window(off, NOW, 30) is False
    exempt = decide(user(young, extra={"IKR:EXEMPT_UNTIL": "2025-12-31"}), account_scope(rotate=90), NOW, [])
    assert in_window(exempt, NOW, 30) is False


def test_the_setting_defaults_to_seven_days_and_refuses_negative():
    assert Settings.model_validate({"MAIL_FROM": "ikr@example.com"}).REMIND_BEFORE_DAYS == 7
    assert Settings.model_validate({"MAIL_FROM": "ikr@example.com", "REMIND_BEFORE_DAYS": "0"}).REMIND_BEFORE_DAYS == 0
    with pytest.raises(ValueError, match="REMIND_BEFORE_DAYS"):
        Settings.model_validate({"MAIL_FROM": "ikr@example.com", "REMIND_BEFORE_DAYS": "-1"})


# --- the words --------------------------------------------------------------------------------


def _notice(**changes: object) -> ReminderNotice:
    values: dict[str, object] = {
        "account": Account(id="111122223333", name="payments"),
        "user": "alice",
        "email": "alice@example.com",
        "key_id": OLD_ID,
        "due_at": datetime(2025, 3, 8, 9, 30, tzinfo=UTC),
        "delivery": "your mail address alice@example.com",
        "delete_after_days": 5,
    }
    values.update(changes)
    return ReminderNotice.model_validate(values)


def test_the_reminder_says_which_key_when_where_the_new_one_goes_and_when_the_old_one_goes():
    mail = reminder_mail(_notice(encrypted=True, instructions="Update CI."))

    assert mail.to == "alice@example.com"
    assert mail.subject == f"Access Key Rotation Ahead: {OLD_ID} of alice in payments (111122223333) on 2025-03-08"
    assert (
        f"Your access key {OLD_ID} of IAM user alice in AWS account 111122223333 will be rotated on 2025-03-08 "
        "(the first ikr run at or after 09:30 UTC)." in mail.text
    )
    assert "- A new key is made and delivered to your mail address alice@example.com as an encrypted pair" in mail.text
    fate = f"- The old key {OLD_ID} keeps working until 2025-03-13 (5 day(s) after the rotation); then it is deleted."
    assert fate in mail.text
    assert "Instructions: Update CI." in mail.text
    assert "<li>A new key is made" in mail.html


def test_the_reminder_tells_of_deactivation_first_and_of_verify_use():
    text = reminder_mail(_notice(deactivate_days=2, verify_use=True, delivery="Secrets Manager secret ikr/ci")).text
    assert "delivered to Secrets Manager secret ikr/ci." in text
    assert "then it is made inactive, and deleted 2 day(s) later." in text
    assert "kept longer while the new key has not been used yet" in text


# --- the record and the report ----------------------------------------------------------------


def _record(**changes: object) -> Reminder:
    values: dict[str, object] = {
        "account_id": "111122223333",
        "user_name": "alice",
        "key_id": OLD_ID,
        "key_created": 1_700_000_000,
        "due_at": 1_741_426_200,
        "claimed_by": "run-1",
        "claimed_at": 1_740_000_000,
        "sent_at": 1_740_000_005,
        "channel": "mail to alice@example.com",
        "expires_at": 1_744_018_200,
    }
    values.update(changes)
    return Reminder.model_validate(values)


def test_a_record_is_known_by_its_key_in_both_forms_and_never_holds_a_state():
    raw = _record().to_item()
    assert raw["item_key"] == {"S": f"#remind#alice#{OLD_ID}"}
    assert "state" not in raw
    assert is_reminder(raw)
    assert is_reminder({"item_key": f"#remind#alice#{OLD_ID}"})
    assert not is_reminder({"item_key": {"S": f"alice#{OLD_ID}"}})
    assert not is_reminder({"item_key": "#retry"})
    assert Reminder.from_item(raw) == _record()
    assert Reminder.from_item({**raw, "due_at": {"S": "soon"}}) is None  # logged, never raised


def test_the_report_shows_only_reminders_sent_and_adds_nothing_when_there_are_none():
    rows = reminder_rows([_record(), _record(key_id="AKIAOTHER", user_name="bob"), _record(sent_at=None)], "alice")
    assert [row.key_id for row in rows] == [OLD_ID]
    empty = Report(
        generated_at=NOW,
        default_rotate_after_days=85,
        default_delete_after_days=5,
        summary=Summary(
            accounts=0,
            opted_in=0,
            not_opted_in=0,
            unreachable=0,
            managed_users=0,
            due_now=0,
            overdue=0,
            pending_deletions=0,
            unmanaged_risk=0,
            failures=0,
        ),
        accounts=[],
        rows=[],
    )
    assert text_sections(empty) == []
    assert csv_wanted(empty) is False


def test_an_exemption_row_carries_its_warnings():
    decision = decide(user(key(age_days=10), extra={"IKR:EXEMPT_UNTIL": "2025-12-31"}), account_scope(), NOW, [])
    row = exemption_row(decision, NOW)
    assert row is not None
    assert row.active is True
    assert row.reason == ""
    assert len(row.warnings) == 2
