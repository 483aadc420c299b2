"""The account queue's message and its sending: 10 a call under SQS's size limit, refused entries
sent once more unless SQS blames the message, what still fails reported per account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from central.aws.expiry_item import ExpiryItem, State
from central.domain.model import Account, Level, LevelKind, OrgUnit, Tag
from central.domain.scope import AccountScope, Days
from central.domain.sources import OptIn, Source
from central.rotation.account_queue import MAX_BATCH_BYTES, AccountMessage, AccountQueue
from central.rotation.run import AccountWork

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/ikr-accounts"
WORKLOADS = Level(kind=LevelKind.OU, id="ou-ab12-cdef3456", name="Workloads")
# A message as version 1 of the queue wrote it (sources as text): it may still wait in a deployed queue.
VERSION_1 = (
    '{"version":1,"run_id":"5fe77bfb99f5","now":"2027-03-01T12:00:00Z","account":{"id":"111122223333",'
    '"name":"payments","tags":[],"path":[{"id":"r-ab12","name":"Root","tags":[]},{"id":"ou-ab12-cdef3456",'
    '"name":"Workloads","tags":[]}]},"enabled_source":"OU ou-ab12-cdef3456 (Workloads) tag IKR:ENABLED",'
    '"rotate_after":{"days":60,"source":"OU ou-ab12-cdef3456 (Workloads) tag IKR:ROTATE_AFTER_DAYS"},'
    '"delete_after":{"days":5,"source":"setting DELETE_AFTER_DAYS"},"swept":[{"user_name":"user00000",'
    '"old_key_id":"AKIAOLD0000000000000","started_at":1700000000,"expires_at":1700500000,'
    '"new_key_id":"AKIANEW0000000000000"}],"part":1}'
)


def work(account_id: str = "111122223333", swept: int = 0) -> AccountWork:
    ou = OrgUnit(id="ou-ab12-cdef3456", name="Workloads", tags=(Tag(key="IKR:ENABLED", value="true"),))
    root = OrgUnit(id="r-ab12", name="Root")
    account = Account(id=account_id, name="payments", tags=(Tag(key="team", value="x"),), path=(root, ou))
    scope = AccountScope(
        account=account,
        opt_in=OptIn.by_tag(WORKLOADS, managed=True),
        rotate_after=Days(days=60, source=Source.tag(WORKLOADS, "IKR:ROTATE_AFTER_DAYS")),
        delete_after=Days(days=5, source=Source.setting("DELETE_AFTER_DAYS")),
    )
    items = tuple(
        ExpiryItem(
            account_id=account_id,
            user_name=f"user{n:05d}",
            old_key_id=f"AKIAOLD{n:013d}",
            new_key_id=f"AKIANEW{n:013d}",
            state=State.SCHEDULED,
            started_at=1_700_000_000,
            expires_at=1_700_500_000,
            email="someone@example.com",
        )
        for n in range(swept)
    )
    return AccountWork(scope=scope, now=NOW, run_id="5fe77bfb99f5", being_deleted=items)


class FakeSqs:
    """Answers SendMessageBatch; `refuse` maps an account id to (code, sender fault, times)."""

    def __init__(self, refuse: dict[str, tuple[str, bool, int]] | None = None, broken: bool = False) -> None:
        self.refuse = dict(refuse or {})
        self.broken = broken
        self.calls: list[list[dict[str, str]]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert QueueUrl == URL
        self.calls.append(Entries)
        if self.broken:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")
        failed = []
        for entry in Entries:
            account_id = AccountMessage.model_validate_json(entry["MessageBody"]).account.id
            if account_id in self.refuse:
                code, sender, times = self.refuse[account_id]
                if times > 0:
                    self.refuse[account_id] = (code, sender, times - 1)
                    failed.append({"Id": entry["Id"], "Code": code, "SenderFault": sender, "Message": "refused"})
        return {"Successful": [], "Failed": failed}


def messages(count: int, swept: int = 0) -> list[AccountMessage]:
    return [AccountMessage.for_work(work(f"{100000000000 + n}", swept)) for n in range(count)]


def test_a_message_carries_the_account_its_policy_the_run_and_the_swept_keys_and_gives_them_back():
    original = work(swept=2)

    message = AccountMessage.model_validate_json(AccountMessage.for_work(original).body())
    back = message.work()

    assert message.account.tags == ()
    assert all(unit.tags == () for unit in message.account.path)
    assert back.scope.account.ou_path == "Root/Workloads"
    assert (back.scope.enabled, back.scope.opt_in) == (True, original.scope.opt_in)
    assert (back.scope.rotate_after, back.scope.delete_after) == (
        original.scope.rotate_after,
        original.scope.delete_after,
    )
    assert (back.now, back.run_id, back.dry_run) == (NOW, "5fe77bfb99f5", False)
    assert [(i.user_name, i.old_key_id, i.expires_at, i.state) for i in back.being_deleted] == [
        (i.user_name, i.old_key_id, i.expires_at, State.SCHEDULED) for i in original.being_deleted
    ]
    assert message.part == 1
    assert message.next_part().part == 2


def test_a_version_3_message_leaves_the_policy_to_the_worker_with_the_ous_tags_and_is_resolved_once():
    original = work(swept=1)
    account = original.scope.account.model_copy(
        update={
            "path": tuple(
                unit.model_copy(update={"tags": (Tag(key="IKR:ENABLED", value="true"),)})
                for unit in original.scope.account.path
            )
        }
    )

    message = AccountMessage.model_validate_json(
        AccountMessage.for_account(account, "5fe77bfb99f5", NOW, original.being_deleted).body()
    )

    assert (message.version, message.needs_scope, message.opt_in, message.rotate_after) == (3, True, None, None)
    assert message.account.tags == ()
    assert [unit.tags for unit in message.account.path] == [unit.tags for unit in account.path]
    with pytest.raises(ValueError, match="not resolved"):
        message.work()
    resolved = message.resolved(original.scope)
    assert (resolved.version, resolved.needs_scope, resolved.swept) == (2, False, message.swept)
    assert resolved.work().scope.opt_in == original.scope.opt_in
    assert resolved.next_part().version == 2  # a later part never reads the tags again
    without_policy = json.loads(resolved.body())
    del without_policy["opt_in"]
    with pytest.raises(ValidationError, match="needs opt_in"):
        AccountMessage.model_validate(without_policy)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        '{"account": "not an account message"}',
        AccountMessage.for_work(work()).body().replace('"version":2', '"version":3'),
        VERSION_1.replace("OU ou-ab12-cdef3456 (Workloads) tag IKR:ENABLED", "OU ou-other (Workloads) tag IKR:ENABLED"),
        VERSION_1.replace('"source":"setting DELETE_AFTER_DAYS"', '"source":"setting SOMETHING_ELSE"'),
        VERSION_1.replace('"version":1', '"version":2'),  # text sources in a version 2 message
        '{"version":1,"account":"not an account"}',
        AccountMessage.for_work(work()).body().replace('"part":1', '"part":0'),
        AccountMessage.for_work(work()).body().replace('"now":"2027-03-01T12:00:00Z"', '"now":"2027-03-01T12:00:00"'),
        AccountMessage.for_work(work()).body()[:-1] + ',"extra":1}',
    ],
)
def test_a_body_that_is_not_an_account_message_is_refused(body: str):
    with pytest.raises(ValidationError):
        AccountMessage.model_validate_json(body)


def test_a_version_1_message_still_in_a_queue_reads_as_the_same_work():
    # GIVEN a message written by version 1 (opt-in and day sources as text)
    # WHEN the worker of this version reads it
    message = AccountMessage.model_validate_json(VERSION_1)

    # THEN it is the work the current rotator would queue, sources as values, sent on as version 2
    current = AccountMessage.model_validate_json(AccountMessage.for_work(work(swept=1)).body())
    assert message == current
    assert message.version == 2
    assert message.opt_in == OptIn.by_tag(WORKLOADS, managed=True)
    assert message.rotate_after == Days(days=60, source=Source.tag(WORKLOADS, "IKR:ROTATE_AFTER_DAYS"))
    assert message.delete_after == Days(days=5, source=Source.setting("DELETE_AFTER_DAYS"))
    assert '"version":2' in message.next_part().body()
    back = message.work()
    assert f"opted in by {back.scope.opt_in}" == "opted in by OU ou-ab12-cdef3456 (Workloads) tag IKR:ENABLED"


@pytest.mark.parametrize(
    ("enabled_source", "rotate_source", "opt_in", "source"),
    [
        (
            "standalone account (no Organization)",
            "setting ROTATE_AFTER_DAYS",
            OptIn.standalone(),
            Source.setting("ROTATE_AFTER_DAYS"),
        ),
        (
            "account 111122223333 (payments) tag IKR:ENABLED",
            "account 111122223333 (payments) tag IKR:ROTATE_AFTER_DAYS",
            OptIn.by_tag(Level(kind=LevelKind.ACCOUNT, id="111122223333", name="payments"), managed=True),
            Source.tag(Level(kind=LevelKind.ACCOUNT, id="111122223333", name="payments"), "IKR:ROTATE_AFTER_DAYS"),
        ),
        (
            "root r-ab12 tag IKR:ENABLED",
            "root r-ab12 tag IKR:ROTATE_AFTER_DAYS",
            OptIn.by_tag(Level(kind=LevelKind.ROOT, id="r-ab12", name="Root"), managed=True),
            Source.tag(Level(kind=LevelKind.ROOT, id="r-ab12", name="Root"), "IKR:ROTATE_AFTER_DAYS"),
        ),
    ],
)
def test_every_source_text_of_version_1_is_read_back_as_its_value(enabled_source, rotate_source, opt_in, source):
    body = VERSION_1.replace("OU ou-ab12-cdef3456 (Workloads) tag IKR:ENABLED", enabled_source).replace(
        "OU ou-ab12-cdef3456 (Workloads) tag IKR:ROTATE_AFTER_DAYS", rotate_source
    )

    message = AccountMessage.model_validate_json(body)

    assert message.rotate_after is not None
    assert (message.opt_in, message.rotate_after.source) == (opt_in, source)
    assert (str(message.opt_in), str(message.rotate_after.source)) == (enabled_source, rotate_source)


def test_a_version_1_account_name_that_reads_like_a_source_is_matched_whole():
    # GIVEN an account whose name holds the words a source is made of
    name = "payments) tag IKR:ENABLED (old"
    body = VERSION_1.replace('"name":"payments"', json.dumps({"name": name})[1:-1]).replace(
        "OU ou-ab12-cdef3456 (Workloads) tag IKR:ROTATE_AFTER_DAYS",
        f"account 111122223333 ({name}) tag IKR:ROTATE_AFTER_DAYS",
    )

    message = AccountMessage.model_validate_json(body)

    account = Level(kind=LevelKind.ACCOUNT, id="111122223333", name=name)
    assert message.rotate_after is not None
    assert message.rotate_after.source == Source.tag(account, "IKR:ROTATE_AFTER_DAYS")


def test_ten_messages_a_call_in_the_given_order():
    sqs = FakeSqs()

    failures = AccountQueue(sqs, URL).send(messages(23))

    assert failures == []
    assert [len(call) for call in sqs.calls] == [10, 10, 3]
    sent = [AccountMessage.model_validate_json(e["MessageBody"]).account.id for call in sqs.calls for e in call]
    assert sent == [f"{100000000000 + n}" for n in range(23)]


def test_a_batch_stays_under_the_size_limit_of_sqs():
    sqs = FakeSqs()
    big = messages(10, swept=300)  # ~60 KiB each

    AccountQueue(sqs, URL).send(big)

    assert len(sqs.calls) > 1
    for call in sqs.calls:
        assert sum(len(entry["MessageBody"].encode()) for entry in call) <= MAX_BATCH_BYTES


def test_an_entry_refused_for_a_passing_reason_is_sent_once_more_alone():
    sqs = FakeSqs(refuse={"100000000003": ("InternalError", False, 1)})

    failures = AccountQueue(sqs, URL).send(messages(5))

    assert failures == []
    assert [len(call) for call in sqs.calls] == [5, 1]


def test_what_fails_twice_or_by_its_own_fault_is_reported_per_account():
    sqs = FakeSqs(
        refuse={"100000000001": ("InternalError", False, 2), "100000000002": ("InvalidMessageContents", True, 1)}
    )

    failures = AccountQueue(sqs, URL).send(messages(4))

    assert {(f.account_id, f.reason) for f in failures} == {
        ("100000000001", "InternalError: refused"),
        ("100000000002", "InvalidMessageContents: refused"),
    }
    assert [len(call) for call in sqs.calls] == [4, 1]  # the sender's fault is not sent again


def test_a_call_refused_after_botocores_retries_fails_its_accounts_without_another_try():
    sqs = FakeSqs(broken=True)

    failures = AccountQueue(sqs, URL).send(messages(3))

    assert [(f.account_id, f.reason) for f in failures] == [
        (f"{100000000000 + n}", "AccessDenied: no") for n in range(3)
    ]
    assert len(sqs.calls) == 1
