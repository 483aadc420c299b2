"""central.domain.policy.decide: one user's keys, tags, inherited days and the time in; the action out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.domain.model import KeyStatus, Level, LevelKind
from central.domain.policy import Action, PendingOld, decide
from central.domain.scope import Days
from central.domain.sources import Source
from tests.unit.factories import ACCOUNT_ID, NOW, account_scope, key, user

OLD_ID, NEW_ID = "AKIAOLD0000000000001", "AKIANEW0000000000002"


# --- rotate / not due ---------------------------------------------------------------------------


def test_a_key_older_than_the_rotate_days_is_rotated():
    # GIVEN a 100-day-old key and a 90-day policy from the settings
    old = key(OLD_ID, age_days=100)

    # WHEN decided
    decision = decide(user(old), account_scope(rotate=90), NOW, [])

    # THEN rotate that key; the reason says how old, after how long and from where
    assert decision.action is Action.ROTATE
    assert decision.key == old
    assert decision.due_at == old.created + timedelta(days=91)  # age in whole days > 90, as the original
    assert decision.reason == (f"key {OLD_ID} is 100 days old; rotate after 90 days (setting ROTATE_AFTER_DAYS)")
    assert decision.user == "alice"
    assert decision.email == "alice@example.com"
    assert decision.bad_input is False
    assert decision.warnings == ()


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        # The original's count: due when the age in whole days is greater than the days.
        (timedelta(days=91), Action.ROTATE),  # exactly due: now >= created + days + 1
        (timedelta(days=91) - timedelta(seconds=1), Action.NOT_DUE),
        (timedelta(days=90), Action.NOT_DUE),  # 90 whole days is not more than 90
        (timedelta(0), Action.NOT_DUE),
    ],
)
def test_rotation_is_due_from_the_instant_created_plus_days_plus_one(age, expected):
    created_key = key(OLD_ID, age_days=0, now=NOW - age)

    assert decide(user(created_key), account_scope(rotate=90), NOW, []).action is expected


def test_a_young_key_is_not_due_and_says_when_it_will_be():
    # GIVEN a 10-day-old key under a 90-day policy with 7 days to delete
    young = key(OLD_ID, age_days=10)

    decision = decide(user(young), account_scope(rotate=90, delete=7), NOW, [])

    # THEN not due, due 81 days from now (once it is more than 90 whole days old)
    assert decision.action is Action.NOT_DUE
    assert decision.key == young
    assert decision.due_at == datetime(2025, 5, 21, 12, 0, tzinfo=UTC)
    assert decision.reason == f"key {OLD_ID} is 10 days old; due 2025-05-21"
    assert decision.bad_input is False


def test_the_scope_source_appears_in_the_rotate_reason():
    prod = Source.tag(Level(kind=LevelKind.OU, id="ou-ab12-prod", name="Prod"), "IKR:ROTATE_AFTER_DAYS")
    scope = account_scope(rotate=30, rotate_source=prod)

    decision = decide(user(key(age_days=31)), scope, NOW, [])

    assert decision.action is Action.ROTATE
    assert "rotate after 30 days (OU ou-ab12-prod (Prod) tag IKR:ROTATE_AFTER_DAYS)" in decision.reason
    assert decision.rotate_after.source == prod


# --- user tags override the account's scope -----------------------------------------------------


def test_a_user_rotate_tag_overrides_the_account_scope():
    # GIVEN the account rotates after 90 days, but the user is tagged 30; the key is 40 days old
    root = Level(kind=LevelKind.ROOT, id="r-ab12", name="Root")
    scope = account_scope(rotate=90, rotate_source=Source.tag(root, "IKR:ROTATE_AFTER_DAYS"))
    tagged = user(key(OLD_ID, age_days=40), extra={"IKR:ROTATE_AFTER_DAYS": "30"})

    decision = decide(tagged, scope, NOW, [])

    # THEN the user's 30 days rule and say so
    assert decision.action is Action.ROTATE
    assert decision.rotate_after == Days(days=30, source=Source.user_tag("IKR:ROTATE_AFTER_DAYS"))
    assert "rotate after 30 days (user tag)" in decision.reason


def test_without_the_user_tag_the_same_key_is_not_due():
    decision = decide(user(key(OLD_ID, age_days=40)), account_scope(rotate=90), NOW, [])

    assert decision.action is Action.NOT_DUE
    assert decision.rotate_after.days == 90


def test_a_user_rotate_tag_can_also_lengthen_the_period():
    tagged = user(key(age_days=100), extra={"IKR:ROTATE_AFTER_DAYS": "180"})

    decision = decide(tagged, account_scope(rotate=90), NOW, [])

    assert decision.action is Action.NOT_DUE
    assert decision.rotate_after == Days(days=180, source=Source.user_tag("IKR:ROTATE_AFTER_DAYS"))


def test_a_user_delete_tag_overrides_the_account_scope():
    tagged = user(key(age_days=100), extra={"ikr:delete_after_days": "2"})

    decision = decide(tagged, account_scope(rotate=90, delete=7), NOW, [])

    assert decision.delete_after == Days(days=2, source=Source.user_tag("IKR:DELETE_AFTER_DAYS"))


def test_user_tag_keys_are_matched_ignoring_case():
    tagged = user(key(age_days=40), email=None, extra={"Ikr:Email": "bob@example.com", "ikr:Rotate_After_Days": "30"})

    decision = decide(tagged, account_scope(rotate=90), NOW, [])

    assert decision.email == "bob@example.com"
    assert decision.action is Action.ROTATE


# --- pending deletion ---------------------------------------------------------------------------


def test_a_user_whose_old_key_awaits_deletion_is_pending():
    # GIVEN a user already rotated: the old key is recorded for deletion, the new one is fresh
    old, new = key(OLD_ID, age_days=95), key(NEW_ID, age_days=1)
    pending = [PendingOld(key_id=OLD_ID, expires_at=datetime(2025, 3, 6, 12, 0, tzinfo=UTC))]

    decision = decide(user(new, old), account_scope(), NOW, pending)

    # THEN nothing to do but wait; two keys are not a reason to skip here
    assert decision.action is Action.PENDING
    assert decision.key == old
    assert decision.reason == f"rotated; old key {OLD_ID} is due for deletion at 2025-03-06 12:00 UTC"
    assert decision.bad_input is False


def test_a_user_whose_old_key_destruction_was_given_up_is_pending_and_says_a_person_must_act():
    old, new = key(OLD_ID, age_days=120), key(NEW_ID, age_days=30)
    pending = [PendingOld(key_id=OLD_ID, expires_at=NOW, gave_up=True)]

    decision = decide(user(new, old), account_scope(), NOW, pending)

    assert decision.action is Action.PENDING
    assert "given up" in decision.reason
    assert "`failed` expiry item" in decision.reason


def test_a_pending_record_for_a_key_the_user_does_not_have_is_ignored():
    due = key(OLD_ID, age_days=100)
    someone_elses = [PendingOld(key_id="AKIAOTHER00000000009", expires_at=NOW + timedelta(days=3))]

    decision = decide(user(due), account_scope(rotate=90), NOW, someone_elses)

    assert decision.action is Action.ROTATE


# --- skips --------------------------------------------------------------------------------------


@pytest.mark.parametrize("second_status", [KeyStatus.ACTIVE, KeyStatus.INACTIVE])
def test_a_user_with_two_keys_is_skipped(second_status):
    two = user(key(OLD_ID, age_days=100), key(NEW_ID, age_days=50, status=second_status))

    decision = decide(two, account_scope(rotate=90), NOW, [])

    assert decision.action is Action.SKIP
    assert "two access keys" in decision.reason
    assert decision.bad_input is False


def test_a_user_with_no_key_is_skipped():
    decision = decide(user(), account_scope(), NOW, [])

    assert decision.action is Action.SKIP
    assert decision.reason == "has no access key to rotate"
    assert decision.key is None


def test_a_user_whose_only_key_is_inactive_is_skipped_even_when_old():
    inactive = key(OLD_ID, age_days=400, status=KeyStatus.INACTIVE)

    decision = decide(user(inactive), account_scope(rotate=90), NOW, [])

    assert decision.action is Action.SKIP
    assert decision.key == inactive
    assert OLD_ID in decision.reason
    assert "inactive" in decision.reason


# --- bad tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("IKR:EMAIL", "not-an-address"),
        ("IKR:EMAIL", "a@x.com,b@y.com"),
        ("IKR:ROTATE_AFTER_DAYS", "0"),
        ("IKR:ROTATE_AFTER_DAYS", "30.5"),
        ("IKR:DELETE_AFTER_DAYS", "٩٠"),
        ("IKR:DELETE_AFTER_DAYS", "99999"),
    ],
)
def test_a_bad_user_tag_skips_the_user_as_bad_input_naming_tag_and_value(tag, value):
    # GIVEN a user whose key is overdue but one of whose tags is unusable
    bad = user(key(OLD_ID, age_days=200), email=None, extra={"IKR:EMAIL": "alice@example.com", **{tag: value}})

    # WHEN decided
    decision = decide(bad, account_scope(rotate=90), NOW, [])

    # THEN skipped, not rotated, counted as bad input, and the reason says which tag and value
    assert decision.action is Action.SKIP
    assert decision.bad_input is True
    assert f"{tag}={value!r}" in decision.reason
    assert decision.key is None
    assert decision.due_at is None


def test_every_bad_user_tag_is_named_in_the_reason():
    bad = user(
        key(age_days=200),
        email="nobody",
        extra={"IKR:ROTATE_AFTER_DAYS": "soon", "IKR:DELETE_AFTER_DAYS": "0"},
    )

    decision = decide(bad, account_scope(), NOW, [])

    assert decision.action is Action.SKIP
    parts = decision.reason.split("; ")
    assert len(parts) == 3
    assert "IKR:EMAIL='nobody'" in parts[0]
    assert "IKR:ROTATE_AFTER_DAYS='soon'" in parts[1]
    assert "IKR:DELETE_AFTER_DAYS='0'" in parts[2]
    # the same problems as records: account, user, tag key and reason, the reason rendered as the text above
    assert [(p.account_id, p.user, p.key, p.level) for p in decision.problems] == [
        (ACCOUNT_ID, bad.name, "IKR:EMAIL", None),
        (ACCOUNT_ID, bad.name, "IKR:ROTATE_AFTER_DAYS", None),
        (ACCOUNT_ID, bad.name, "IKR:DELETE_AFTER_DAYS", None),
    ]
    assert [problem.reason for problem in decision.problems] == parts


def test_a_user_tag_in_two_cases_with_two_values_skips_the_user():
    both = user(key(age_days=200), extra=[("ikr:email", "bob@example.com")])

    decision = decide(both, account_scope(rotate=90), NOW, [])

    assert decision.action is Action.SKIP
    assert decision.bad_input is True
    assert "IKR:EMAIL='alice@example.com'" in decision.reason
    assert "ikr:email='bob@example.com'" in decision.reason


def test_a_bad_user_days_tag_keeps_the_scope_days():
    bad = user(key(age_days=200), extra={"IKR:ROTATE_AFTER_DAYS": "0"})

    decision = decide(bad, account_scope(rotate=90), NOW, [])

    assert decision.rotate_after == Days(days=90, source=Source.setting("ROTATE_AFTER_DAYS"))


def test_a_bad_tag_skips_even_a_user_with_a_pending_old_key():
    old, new = key(OLD_ID, age_days=95), key(NEW_ID, age_days=1)
    pending = [PendingOld(key_id=OLD_ID, expires_at=NOW + timedelta(days=2))]
    bad = user(new, old, extra={"IKR:DELETE_AFTER_DAYS": "x"})

    decision = decide(bad, account_scope(), NOW, pending)

    assert decision.action is Action.SKIP
    assert "IKR:DELETE_AFTER_DAYS='x'" in decision.reason


# --- instructions -------------------------------------------------------------------------------


def test_instructions_are_carried_in_numeric_order():
    tagged = user(
        key(age_days=100),
        extra={
            "IKR:INSTRUCTION_10": "Restart.",
            "IKR:INSTRUCTION_2": "Update vault.",
            "IKR:INSTRUCTION_1": "Log in.",
        },
    )

    decision = decide(tagged, account_scope(rotate=90), NOW, [])

    assert decision.instructions == "Log in. Update vault. Restart."
    assert decision.bad_input is False


def test_a_malformed_instruction_key_warns_and_marks_bad_input_but_does_not_block_rotation():
    # GIVEN an overdue key and an instruction tag without a number
    tagged = user(
        key(OLD_ID, age_days=100),
        extra={"IKR:INSTRUCTION_0": "Update vault.", "IKR:INSTRUCTION_X": "Lost text."},
    )

    # WHEN decided
    decision = decide(tagged, account_scope(rotate=90), NOW, [])

    # THEN still rotated, with the good instruction, the warning naming the key, and bad input set
    assert decision.action is Action.ROTATE
    assert decision.instructions == "Update vault."
    assert len(decision.warnings) == 1
    assert "IKR:INSTRUCTION_X" in decision.warnings[0]
    assert decision.bad_input is True


def test_an_instruction_warning_on_a_user_not_due_keeps_not_due():
    tagged = user(key(age_days=5), extra={"ikr:instruction_": "x"})

    decision = decide(tagged, account_scope(rotate=90), NOW, [])

    assert decision.action is Action.NOT_DUE
    assert decision.bad_input is True
    assert "IKR:INSTRUCTION_" in decision.warnings[0]


def test_an_unknown_ikr_user_tag_is_named_and_flags_bad_input_without_blocking_rotation():
    typo = user(key(age_days=100), extra={"IKR:ROTATE_AFTER_DAY": "30"})

    decision = decide(typo, account_scope(rotate=90, delete=7), NOW, [])

    assert decision.action is Action.ROTATE
    assert decision.bad_input is True
    assert any("IKR:ROTATE_AFTER_DAY is not a tag ikr reads" in warning for warning in decision.warnings)
    assert decision.rotate_after.days == 90


def test_a_machine_user_delivers_to_its_store_and_verifies_use_by_default():
    machine = user(key(OLD_ID, age_days=400), extra={"IKR:DELIVERY": "secretsmanager:ikr/ci/deployer"})

    decision = decide(machine, account_scope(), NOW, [])

    assert decision.action is Action.ROTATE
    assert str(decision.delivery) == "secretsmanager:ikr/ci/deployer"
    assert decision.verify_use is True


def test_verify_use_can_be_switched_either_way():
    store = user(key(OLD_ID, age_days=400), extra={"IKR:DELIVERY": "ssm:/ikr/x", "ikr:verify_use": "FALSE"})
    mail = user(key(OLD_ID, age_days=400), extra={"IKR:VERIFY_USE": "true"})

    assert decide(store, account_scope(), NOW, []).verify_use is False
    assert decide(mail, account_scope(), NOW, []).verify_use is True


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ({"IKR:DELIVERY": "secretsmanager:prod/db"}, "must start with 'ikr/'"),
        ({"IKR:DELIVERY": "vault:ikr/x"}, "is not mail, secretsmanager:"),
        ({"IKR:VERIFY_USE": "yes"}, "IKR:VERIFY_USE='yes' must be true or false"),
    ],
)
def test_a_bad_delivery_tag_skips_the_user_naming_it(tags: dict[str, str], words: str):
    decision = decide(user(key(OLD_ID, age_days=400), extra=tags), account_scope(), NOW, [])

    assert decision.action is Action.SKIP
    assert decision.bad_input is True
    assert words in decision.reason
