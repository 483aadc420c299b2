"""Mail delivery through Mailgun's HTTP API and an SMTP relay, and what a refused mail leaves behind:
the new key removed again, the old key kept, nothing scheduled for deletion, exit code 1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import DAY_100, E2E, Run
from tests.support.servers import MAIL_FROM, MailgunStandIn, free_port

pytestmark = pytest.mark.e2e

API_KEY = "key-e2e-0123456789abcdef"
API_KEY_PARAMETER = "/ikr/central/mailgun-api-key"
DUE = [("prod", "alice"), ("dev", "dave")]


@pytest.fixture
def mailgun() -> Iterator[MailgunStandIn]:
    with MailgunStandIn(api_key=API_KEY) as stand_in:
        yield stand_in


def via_mailgun(e2e: E2E, stand_in: MailgunStandIn, stored_key: str | None = API_KEY) -> dict[str, str | None]:
    """The Mailgun settings, with the API key as a SecureString in the central account (or none at all)."""
    if stored_key is not None:
        e2e.client("central", "ssm").put_parameter(
            Name=API_KEY_PARAMETER, Value=stored_key, Type="SecureString", Overwrite=True
        )
    return {
        "MAIL_CLIENT": "mailgun",
        "MAILGUN_API_URL": stand_in.url,
        "MAILGUN_API_KEY_NAME": API_KEY_PARAMETER,
        "SMTP_SERVER": None,
        "SMTP_PORT": None,
        "SMTP_PROTOCOL": None,
    }


def assert_nothing_rotated(
    e2e: E2E, run: Run, before: dict[tuple[str, str], list[str]], why: str, for_good: bool = False
) -> None:
    """`for_good`: a refusal only a person mends (SMTP 5yz, Mailgun 401): the daily run tries again, the
    retry run leaves it; otherwise the retry run takes each account up within minutes."""
    assert run.code == 1, run.stdout + run.stderr
    for account, user in DUE:
        line = run.line_for(f" {user} ")
        assert line.startswith(f" ! {user}")
        assert "failed" in line
        assert why in line, line
        assert f"old key {before[account, user][0]} kept" in line
    assert e2e.all_keys() == before  # each new key was removed again
    assert e2e.items() == []  # nothing scheduled, no journal left behind
    marks = e2e.retry_marks()
    if for_good:
        assert marks == {}
        return
    assert sorted(marks) == sorted(account for account, _user in DUE)
    assert all(why in reason for reason in marks.values()), marks


def test_mailgun_gets_each_mail_with_the_api_key(e2e: E2E, mailgun: MailgunStandIn) -> None:
    e2e.create_table()

    run = e2e.ikr("rotate", "--now", DAY_100, **via_mailgun(e2e, mailgun))

    assert run.code == 1  # carol's bad tag
    assert "rotated" in run.line_for(" alice ")
    assert "rotated" in run.line_for(" dave ")
    assert sorted(message["to"] for message in mailgun.messages) == ["alice@example.com", "dave@example.com"]
    alice = next(message for message in mailgun.messages if message["to"] == "alice@example.com")
    prod = e2e.account("prod")
    assert alice["from"] == MAIL_FROM
    assert alice["subject"] == f"New Access Key Pair for alice in prod ({prod})"
    assert f"Account: {prod} ()" in alice["text"]  # the account has no IAM alias
    assert "Secret Access Key: gAAAA" in alice["text"]
    assert "<html>" in alice["html"]
    assert e2e.sink.messages == []
    assert sorted(item["user_name"] for item in e2e.items() if item["state"] == "scheduled") == ["alice", "dave"]
    assert API_KEY not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("status", "stored_key", "why", "for_good"),
    [
        pytest.param(200, "key-revoked", "HTTP 401", True, id="wrong-api-key"),
        pytest.param(
            200, None, f"cannot read the Mailgun API key from SSM parameter {API_KEY_PARAMETER}", False, id="no-key"
        ),
    ],
)
def test_mailgun_refusal_keeps_the_old_key(
    e2e: E2E, mailgun: MailgunStandIn, status: int, stored_key: str | None, why: str, for_good: bool
) -> None:
    e2e.create_table()
    mailgun.status = status
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--now", DAY_100, **via_mailgun(e2e, mailgun, stored_key))

    assert_nothing_rotated(e2e, run, before, why, for_good)
    assert mailgun.messages == []
    assert mailgun.requests == (0 if stored_key is None else 2)


def test_a_mailgun_server_error_is_uncertain_so_the_key_is_kept_and_sent_again(
    e2e: E2E, mailgun: MailgunStandIn
) -> None:
    """A 500 after the request was sent: Mailgun may have taken the mail, so the new key is never
    removed as undelivered; the next run sends the same key, never a new one."""
    e2e.create_table()
    mailgun.status = 500
    before = e2e.all_keys()

    uncertain = e2e.ikr("rotate", "--now", DAY_100, **via_mailgun(e2e, mailgun, API_KEY))

    assert uncertain.code == 1
    assert "delivery uncertain" in uncertain.stdout
    kept = e2e.all_keys()
    for account, user in DUE:
        assert kept[account, user][0] == before[account, user][0]
        assert len(kept[account, user]) == 2  # the key Mailgun may have delivered stays

    mailgun.status = 200
    rerun = e2e.ikr("rotate", "--now", DAY_100, **via_mailgun(e2e, mailgun, API_KEY))

    assert "resumed an interrupted rotation" in rerun.stdout
    assert e2e.all_keys() == kept  # the same new keys: no third key, none replaced


def test_a_refusing_smtp_relay_keeps_the_old_key_and_a_rerun_rotates(e2e: E2E) -> None:
    e2e.create_table()
    e2e.sink.refusing = True
    before = e2e.all_keys()

    refused = e2e.ikr("rotate", "--now", DAY_100)

    assert_nothing_rotated(e2e, refused, before, "554 mail refused", for_good=True)
    assert e2e.sink.messages == []

    e2e.sink.refusing = False
    rerun = e2e.ikr("rotate", "--now", DAY_100)

    assert rerun.code == 1  # carol's bad tag, nothing else
    after = e2e.all_keys()
    for account, user in DUE:
        old, new = after[account, user]
        assert old == before[account, user][0]
        assert f"new key {new} mailed to {user}@example.com" in rerun.line_for(f" {user} ")
    assert sorted(mail.to for mail in e2e.sink.wait_for(2)) == ["alice@example.com", "dave@example.com"]
    assert sorted((item["user_name"], item["state"]) for item in e2e.items()) == [
        ("alice", "scheduled"),
        ("dave", "scheduled"),
    ]


def test_an_unreachable_smtp_relay_keeps_the_old_key(e2e: E2E) -> None:
    e2e.create_table()
    before = e2e.all_keys()

    run = e2e.ikr("rotate", "--now", DAY_100, SMTP_PORT=free_port())  # nobody listens there

    assert_nothing_rotated(e2e, run, before, "ConnectionRefusedError")
