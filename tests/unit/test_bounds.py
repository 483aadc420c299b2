"""Rule 7's bounds nest: nothing that passed its check can overflow datetime arithmetic, and every
expiry item ikr can write from bounded inputs can be read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch, from_epoch
from central.domain import bounds
from central.domain.errors import InvalidItemError
from central.settings import Settings

# The longest span ikr adds to an instant: the deletion time, then the deactivation window, the
# verify-use grace and a destruction retry on top.
LONGEST = timedelta(days=bounds.MAX_DAYS + 2 * bounds.MAX_WINDOW_DAYS, minutes=bounds.MAX_RETRY_MINS)


def test_the_latest_now_plus_the_longest_span_is_an_epoch_an_item_may_hold():
    latest = bounds.LATEST_NOW - timedelta(seconds=1)
    assert epoch(latest + LONGEST) <= bounds.MAX_EPOCH


def test_the_latest_item_time_plus_the_longest_span_stays_within_datetime():
    assert from_epoch(bounds.MAX_EPOCH) + LONGEST + LONGEST < datetime.max.replace(tzinfo=UTC)
    assert from_epoch(0) - timedelta(days=1) > datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("ROTATE_AFTER_DAYS", bounds.MAX_DAYS),
        ("DELETE_AFTER_DAYS", bounds.MAX_DAYS),
        ("DEACTIVATE_BEFORE_DELETE_DAYS", bounds.MAX_WINDOW_DAYS),
        ("VERIFY_USE_GRACE_DAYS", bounds.MAX_WINDOW_DAYS),
        ("RETRY_AFTER_MINS", bounds.MAX_RETRY_MINS),
        ("IKR_MAX_DESTROY_ATTEMPTS", bounds.MAX_DESTROY_ATTEMPTS),
    ],
)
def test_a_setting_at_its_bound_is_accepted_and_one_past_it_is_not(
    monkeypatch: pytest.MonkeyPatch, name: str, limit: int
):
    monkeypatch.setenv("MAIL_FROM", "ikr@example.com")
    monkeypatch.setenv(name, str(limit))
    assert getattr(Settings(), name) == limit
    monkeypatch.setenv(name, str(limit + 1))
    with pytest.raises(ValueError, match=name):
        Settings()


def test_now_is_checked_against_its_range_and_a_naive_instant_is_utc():
    assert bounds.check_now(bounds.EARLIEST_NOW) == bounds.EARLIEST_NOW
    assert bounds.check_now(datetime(2027, 3, 1)) == datetime(2027, 3, 1, tzinfo=UTC)
    assert bounds.check_now(bounds.LATEST_NOW - timedelta(seconds=1))
    for outside in (bounds.LATEST_NOW, bounds.EARLIEST_NOW - timedelta(seconds=1), datetime.max.replace(tzinfo=UTC)):
        with pytest.raises(ValueError, match=r"outside 1970-01-01 \.\. 2500-01-01"):
            bounds.check_now(outside)


def _item(**numbers: dict[str, object]) -> dict[str, object]:
    plain = ExpiryItem(
        account_id="210987654321", user_name="dave", old_key_id="AKIAOLD", state=State.SCHEDULED, started_at=0
    ).to_item()
    return plain | numbers


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("expires_at", {"N": "1E+125"}, "1.000e+125 is outside 0..32503680000"),
        ("expires_at", {"N": "-5"}, "-5 is outside"),
        ("expires_at", {"N": str(bounds.MAX_EPOCH + 1)}, "is outside"),
        ("expires_at", {"N": "1700000000.5"}, "fractional part"),
        ("expires_at", {"BOOL": True}, "True is not a number"),
        ("started_at", {"N": "-1"}, "-1 is outside"),
        ("attempts", {"N": str(bounds.MAX_DESTROY_ATTEMPTS + 1)}, "is outside 0..1000"),
        ("delete_after_days", {"N": "0"}, "0 is outside 1..36500"),
        ("delete_after_days", {"N": "1" + "0" * 20}, "1.000e+20 is outside 1..36500"),
        ("lease_until", {"N": "1E+125"}, "is outside"),
    ],
)
def test_an_item_number_out_of_range_is_an_invalid_item_naming_the_field(field: str, value: object, words: str):
    with pytest.raises(InvalidItemError) as refused:
        ExpiryItem.from_item(_item(**{field: value}))
    assert f"{field}: " in str(refused.value)
    assert words in str(refused.value)
    assert "dave#AKIAOLD" in str(refused.value)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_a_number_that_is_not_finite_is_refused_not_an_overflow(value: str):
    from decimal import Decimal

    plain = ExpiryItem.from_item(_item()).model_dump() | {"expires_at": Decimal(value), "item_key": "dave#AKIAOLD"}
    with pytest.raises(InvalidItemError, match=f"expires_at: Value error, {value} is not a number"):
        ExpiryItem.from_plain(plain)


def test_an_item_at_the_bounds_is_read_and_its_times_convert():
    item = ExpiryItem.from_item(
        _item(expires_at={"N": str(bounds.MAX_EPOCH)}, attempts={"N": "1000"}, delete_after_days={"N": "36500"})
    )
    assert from_epoch(item.expires_at or 0).year == 3000
    assert (item.attempts, item.delete_after_days) == (1000, 36500)
