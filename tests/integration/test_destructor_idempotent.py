"""Rule 5: the destructor is idempotent. Real REMOVE records, read from the table's stream as Lambda
would get them, are handed to `handlers.destructor.handler` twice (Lambda retrying a batch, a shard
read again), by two invocations at once (one held after each of its AWS calls while the other runs),
and after a crash: one deletion, the same deletion time, no stray item, each notice and mail once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from moto.ses.models import ses_backends

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.ssm_secrets import parameter_name
from central.aws.stream_pump import Checkpoint, LocalLambdaContext, pump
from handlers import destructor
from tests.integration.conftest import TABLE
from tests.integration.destroy_scene import NOW, RETRY, Scene
from tests.integration.faults import Crash, Faults
from tests.integration.fixtures_extra import (
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)
from tests.support.servers import WebhookSink

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
CENTRAL = "123456789012"  # moto's default account: the central account's SES
ADMIN = "admin@example.com"
DAYS = 2  # DEACTIVATE_BEFORE_DELETE_DAYS of the deactivate-first lifecycle


# -- the world around the handler ------------------------------------------------------------------------
class Stream:
    """The expiry table's stream, read from where the last look stopped, shaped as Lambda shapes it."""

    def __init__(self, central: boto3.Session, scene: Scene) -> None:
        self.client = central.client("dynamodbstreams")
        self.arn = scene.table.stream_arn()
        self.checkpoint = Checkpoint(None)

    def removes(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []

        def keep(event: dict[str, Any], _context: Any) -> dict[str, Any]:
            got.extend(record for record in event["Records"] if record["eventName"] == "REMOVE")
            return {"batchItemFailures": []}

        pump(self.client, self.arn, keep, self.checkpoint)
        return got


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def world(central: boto3.Session, scene: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch) -> Scene:
    _destructor_env(central, webhook, monkeypatch)
    return scene


def _destructor_env(central: boto3.Session, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender verified and the environment the destructor handler reads."""
    central.client("ses").verify_email_identity(EmailAddress="ikr@example.com")
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "ADMIN_EMAIL": ADMIN,
        "NOTIFY_WEBHOOK_URL": webhook.url,
        "IKR_ALLOW_CLOCK_OVERRIDE": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ikr-test",
    }.items():
        monkeypatch.setenv(name, value)


def invoke(monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]], now: datetime) -> list[str]:
    """One delivery of the batch; the sequence numbers the handler reported as failed."""
    monkeypatch.setenv("IKR_NOW", now.isoformat())
    response = destructor.handler({"Records": records}, LocalLambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def expire(stream: Stream, scene: Scene, at: datetime) -> list[dict[str, Any]]:
    """The sweep removes what is due at `at`; the REMOVE records that the stream hands over."""
    scene.table.sweep(at)
    removes = stream.removes()
    assert removes, "nothing was due"
    return removes


def mails() -> Counter[tuple[str, str]]:
    """(recipient, subject) of every mail sent, with how often."""
    return Counter(
        (address, message.subject)
        for message in ses_backends[CENTRAL]["us-east-1"].sent_messages
        for address in message.destinations["ToAddresses"]
    )


def used_after_the_mail(scene: Scene) -> None:
    """The old key signs a request after the new key was mailed: the last-use reminder is due."""
    boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id=scene.old, aws_secret_access_key="x" * 40
    ).get_caller_identity()
    scene.item = scene.item.model_copy(update={"started_at": epoch(datetime.now(UTC) - timedelta(hours=1))})


def schedule(scene: Scene, **changes: Any) -> ExpiryItem:
    item = scene.item.model_copy(update=changes)
    scene.item = item
    scene.table.put(item)
    return item


def raw_items(scene: Scene) -> list[dict[str, Any]]:
    return list(scene.table._db.scan(TableName=TABLE, ConsistentRead=True)["Items"])


def assert_each_once(webhook: WebhookSink) -> None:
    events = Counter(webhook.events())
    assert all(count == 1 for count in events.values()), events
    assert all(count == 1 for count in mails().values()), mails()


# -- the same record twice, each lifecycle ----------------------------------------------------------------
LATER_BY = timedelta(minutes=10)  # the second delivery comes later: its clock must move nothing


def test_delete_at_once_twice_deletes_once_and_tells_once(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    used_after_the_mail(world)
    schedule(world)
    stream = Stream(central, world)
    records = expire(stream, world, NOW)

    assert invoke(monkeypatch, records, NOW) == []
    faults = Faults(monkeypatch)
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == {world.new}
    assert not world.parameter_exists()
    assert world.table_items() == []
    assert "DeleteAccessKey" not in faults.operations()
    assert "SendEmail" not in faults.operations()
    assert sorted(webhook.events()) == ["old-key-retired", "old-key-still-used"]
    assert mails() == {
        ("dave@example.com", f"Old AWS access key of dave in {world.account_id} was still in use"): 1,
        ("dave@example.com", f"Old Access Key Pair Deleted: {world.old} of dave in {world.account_id}"): 1,
    }
    (tombstone,) = raw_items(world)  # kept out of every reader's sight; gone with the sweep at its time
    assert tombstone["state"] == {"S": State.RETIRED.value}
    assert world.table.sweep(NOW + timedelta(days=3)) == []
    assert raw_items(world) == []
    faults = Faults(monkeypatch)
    assert invoke(monkeypatch, stream.removes(), NOW + timedelta(days=3)) == []  # the tombstone's REMOVE
    assert not [op for op in faults.operations() if op in ("AssumeRole", "ListAccessKeys")]


def test_deactivate_then_delete_twice_keeps_the_window_and_tells_once(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DEACTIVATE_BEFORE_DELETE_DAYS", str(DAYS))
    used_after_the_mail(world)
    schedule(world)
    stream = Stream(central, world)
    first = expire(stream, world, NOW)

    assert invoke(monkeypatch, first, NOW) == []
    (back,) = world.table_items()
    assert invoke(monkeypatch, first, NOW + LATER_BY) == []

    assert world.status(world.old) == "Inactive"
    assert world.table_items() == [back]  # the deletion time did not move
    assert back.expires_at == epoch(NOW + timedelta(days=DAYS))
    assert world.parameter_exists()
    assert world.table.sweep(NOW + timedelta(days=DAYS) - timedelta(minutes=1)) == []  # the window holds

    second = expire(stream, world, NOW + timedelta(days=DAYS, minutes=1))
    assert invoke(monkeypatch, second, NOW + timedelta(days=DAYS, minutes=1)) == []
    assert invoke(monkeypatch, second, NOW + timedelta(days=DAYS, minutes=1) + LATER_BY) == []
    assert invoke(monkeypatch, first, NOW + timedelta(days=DAYS, minutes=2)) == []  # the first, read again

    assert world.access_keys() == {world.new}
    assert world.table_items() == []
    assert not world.parameter_exists()
    assert sorted(webhook.events()) == ["old-key-deactivated", "old-key-retired", "old-key-still-used"]
    assert_each_once(webhook)
    assert len(mails()) == 2  # the reminder (at deactivation), the deletion mail (at deletion)


def test_verify_use_postponement_twice_waits_once_and_mails_once(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    schedule(world, verify_use=True)  # the new key was never used
    stream = Stream(central, world)
    records = expire(stream, world, NOW)

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []
    assert invoke(monkeypatch, records, NOW + timedelta(days=1, hours=1)) == []  # a day later: still once

    assert world.access_keys() == {world.old, world.new}
    (back,) = world.table_items()
    assert back.expires_at == epoch(NOW + timedelta(days=1))
    assert back.postponed_at == epoch(NOW)
    assert webhook.events() == ["retirement-postponed"]
    assert mails() == {
        ("dave@example.com", f"Waiting for dave in {world.account_id} to switch to its new AWS access key"): 1
    }


def test_a_failed_attempt_twice_is_one_attempt(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    schedule(world)
    stream = Stream(central, world)
    records = expire(stream, world, NOW)
    faults = Faults(monkeypatch)
    faults.refuse("DeleteAccessKey", code="AccessDenied", message="explicit deny in a service control policy")

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    (back,) = world.table_items()
    assert (back.state, back.attempts, back.expires_at) == (State.SCHEDULED, 1, epoch(NOW + RETRY))
    assert faults.operations().count("DeleteAccessKey") == 1
    assert world.access_keys() == {world.old, world.new}


def test_the_last_attempt_twice_gives_up_once_and_tells_the_admin_once(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("IKR_MAX_DESTROY_ATTEMPTS", "2")
    schedule(world, attempts=1)
    stream = Stream(central, world)
    records = expire(stream, world, NOW)
    Faults(monkeypatch).refuse("DeleteAccessKey", code="AccessDenied")

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    (failed,) = world.table_items()
    assert (failed.state, failed.attempts) == (State.FAILED, 2)
    assert webhook.events() == ["destruction-given-up"]
    assert mails() == {(ADMIN, "[ikr] destruction given up"): 1}
    assert world.access_keys() == {world.old, world.new}


# -- two invocations at once -------------------------------------------------------------------------------
class Hold:
    """Holds the thread named `first` right after the AWS call (answered or refused) for which `at(calls)`
    first says yes, until released: the other invocation runs meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: Callable[[list[str]], bool]) -> None:
        self.calls: list[str] = []
        self.reached = threading.Event()
        self.release = threading.Event()
        original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]
        hold = self

        def _make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            try:
                return original(client, operation, params)
            finally:
                if threading.current_thread().name == "first":
                    hold.calls.append(operation)
                    if not hold.reached.is_set() and at(hold.calls):
                        hold.reached.set()
                        hold.release.wait(timeout=60)

        monkeypatch.setattr(BaseClient, "_make_api_call", _make_api_call)


def overlapped(monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]], at: Callable[[list[str]], bool]) -> Hold:
    """A first invocation is held at `at` while a second one handles the same records; then it goes on."""
    hold = Hold(monkeypatch, at)
    monkeypatch.setenv("IKR_NOW", NOW.isoformat())
    answers: list[dict[str, Any]] = []

    def first() -> None:
        answers.append(destructor.handler({"Records": records}, LocalLambdaContext()))

    thread = threading.Thread(target=first, name="first")
    thread.start()
    while thread.is_alive() and not hold.reached.wait(0.02):
        pass
    second = destructor.handler({"Records": records}, LocalLambdaContext())
    hold.release.set()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert answers == [{"batchItemFailures": []}]
    assert second == {"batchItemFailures": []}
    return hold


def first_step(central: boto3.Session, scene: Scene, monkeypatch: pytest.MonkeyPatch, deactivate: bool) -> list[Any]:
    monkeypatch.setenv("DEACTIVATE_BEFORE_DELETE_DAYS", str(DAYS if deactivate else 0))
    used_after_the_mail(scene)
    schedule(scene)
    return expire(Stream(central, scene), scene, NOW)


def one_step_done(scene: Scene, webhook: WebhookSink, deactivate: bool) -> str | None:
    """What is wrong after the first lifecycle step was handled by two invocations, or None."""
    if deactivate:
        if scene.status(scene.old) != "Inactive":
            return "old key not made inactive"
        items = scene.table_items()
        if [item.expires_at for item in items] != [epoch(NOW + timedelta(days=DAYS))]:
            return f"items {items}"
        expected = ["old-key-deactivated", "old-key-still-used"]
    else:
        if scene.access_keys() != {scene.new} or scene.table_items() or scene.parameter_exists():
            return f"keys {scene.access_keys()}, items {scene.table_items()}, parameter {scene.parameter_exists()}"
        expected = ["old-key-retired", "old-key-still-used"]
    if sorted(webhook.events()) != expected:
        return f"webhook events {webhook.events()}"
    if list(mails().values()) != [1] * (1 if deactivate else 2):
        return f"mails {mails()}"  # the reminder, once; the deletion mail, once
    return None


@pytest.mark.parametrize("deactivate", [False, True], ids=["delete-at-once", "deactivate-first"])
# Every other call is a hold point of the slow sweep below.
@pytest.mark.parametrize("held_after", ["PutItem", "key change"])
def test_two_invocations_of_the_same_record_at_once_act_and_tell_once(
    central: boto3.Session,
    world: Scene,
    webhook: WebhookSink,
    monkeypatch: pytest.MonkeyPatch,
    deactivate: bool,
    held_after: str,
):
    records = first_step(central, world, monkeypatch, deactivate)
    wanted = {"DeleteAccessKey", "UpdateAccessKey"} if held_after == "key change" else {held_after}

    hold = overlapped(monkeypatch, records, at=lambda calls: calls[-1] in wanted)

    assert hold.reached.is_set()
    assert one_step_done(world, webhook, deactivate) is None


@pytest.mark.slow
@pytest.mark.parametrize("deactivate", [False, True], ids=["delete-at-once", "deactivate-first"])
def test_two_invocations_held_after_every_call_act_and_tell_once(
    central: boto3.Session, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch, deactivate: bool
):
    """The interleaving sweep: the first invocation held after each of its AWS calls in turn."""
    solo = _fresh_world(central, webhook, monkeypatch)
    records = first_step(central, solo, monkeypatch, deactivate)
    with pytest.MonkeyPatch.context() as patch:
        counted = Hold(patch, at=lambda _calls: False)
        thread = threading.Thread(target=lambda: invoke(monkeypatch, records, NOW), name="first")
        thread.start()
        thread.join(timeout=60)
    points = list(counted.calls)
    assert {"PutItem", "UpdateItem"} <= set(points)

    problems: dict[str, str] = {}
    for n in range(1, len(points) + 1):
        scene = _fresh_world(central, webhook, monkeypatch)
        records = first_step(central, scene, monkeypatch, deactivate)
        with pytest.MonkeyPatch.context() as patch:
            overlapped(patch, records, at=_nth_call(n))
        problem = one_step_done(scene, webhook, deactivate)
        if problem is not None:
            problems[f"#{n} {points[n - 1]}"] = problem
    print(f"destructor overlaps tried: {len(points)}, held: {len(points) - len(problems)}: {points}")
    assert problems == {}


def _nth_call(n: int) -> Callable[[list[str]], bool]:
    return lambda calls: len(calls) == n


def _fresh_world(central: boto3.Session, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch) -> Scene:
    from tests.integration.destroy_scene import build_scene
    from tests.support.emulator import reset_emulator

    reset_emulator()
    webhook.received.clear()
    scene = build_scene(central)
    _destructor_env(central, webhook, monkeypatch)
    return scene


# -- a crash, then the record again ----------------------------------------------------------------------
def _answer_written(params: dict[str, Any]) -> bool:
    return "handling" in params.get("Item", {})


@pytest.mark.parametrize("deactivate", [False, True], ids=["delete-at-once", "deactivate-first"])
@pytest.mark.parametrize(
    ("operation", "told"),
    [("PutItem", 1), ("DeleteAccessKey|UpdateAccessKey", 1), ("UpdateItem", 0)],
    ids=["after-the-answer", "after-the-key-change", "after-the-claim"],
)
def test_a_crash_then_the_same_record_finishes_the_key_change_and_tells_at_most_once(
    central: boto3.Session,
    world: Scene,
    webhook: WebhookSink,
    monkeypatch: pytest.MonkeyPatch,
    deactivate: bool,
    operation: str,
    told: int,
):
    records = first_step(central, world, monkeypatch, deactivate)
    faults = Faults(monkeypatch)
    for name in operation.split("|"):
        faults.crash_after(name, when=_answer_written if name == "PutItem" else lambda _params: True)

    with pytest.raises(Crash):
        invoke(monkeypatch, records, NOW)
    faults.clear()
    if deactivate and operation == "PutItem":
        assert world.status(world.old) == "Active"  # the crash came before the key change
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []  # Lambda retries the batch

    if deactivate:
        assert world.status(world.old) == "Inactive"
        (back,) = world.table_items()
        assert back.expires_at == epoch(NOW + timedelta(days=DAYS))  # the crashed run's decision stands
        outcome = "old-key-deactivated"
    else:
        assert world.access_keys() == {world.new}
        assert world.table_items() == []
        assert not world.parameter_exists()
        outcome = "old-key-retired"
    # A crash after the claim loses the notices (at most once, never twice): the one window left.
    assert webhook.events().count(outcome) == told
    assert all(count == 1 for count in mails().values())


# -- a REMOVE for a user deleted and made anew under the same name ------------------------------------------
@pytest.mark.parametrize("own_item", [False, True], ids=["no-items", "own-item"])
def test_a_remove_for_a_user_made_anew_leaves_the_new_users_keys_and_encryption_key_alone(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch, own_item: bool
):
    schedule(world)
    stream = Stream(central, world)
    records = expire(stream, world, NOW)
    iam = world.iam
    for key in world.access_keys():
        iam.delete_access_key(UserName="dave", AccessKeyId=key)
    iam.delete_user(UserName="dave")
    iam.create_user(UserName="dave", Tags=[{"Key": "IKR:EMAIL", "Value": "dave@example.com"}])
    fresh = {iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"] for _ in range(2)}
    world.ssm.put_parameter(Name=parameter_name("dave"), Value="the-new-daves-key", Type="SecureString", Overwrite=True)
    theirs = None
    if own_item:
        older = min(fresh)
        theirs = world.item.model_copy(
            update={"old_key_id": older, "new_key_id": max(fresh), "expires_at": epoch(NOW + timedelta(days=3))}
        )
        world.table.put(theirs)

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == fresh
    assert all(world.status(key) == "Active" for key in fresh)
    assert world.parameter_exists()
    assert world.table_items() == ([theirs] if theirs else [])
    assert webhook.events() == ["old-key-retired"]  # the old user's key is gone: said once


# -- unrecorded keys -------------------------------------------------------------------------------------
def unrecorded(world: Scene, status: str) -> ExpiryItem:
    """ikr's rotation found `world.new` unrecorded, made it inactive and told the user; it is due now."""
    world.iam.update_access_key(UserName="dave", AccessKeyId=world.new, Status=status)
    return schedule(world, old_key_id=world.new, new_key_id=None, unrecorded=True)


def test_an_unrecorded_key_still_inactive_is_deleted_once_and_the_encryption_key_kept(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    unrecorded(world, "Inactive")
    world.iam.update_access_key(UserName="dave", AccessKeyId=world.old, Status="Inactive")  # no other active key
    records = expire(Stream(central, world), world, NOW)

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == {world.old}
    assert world.parameter_exists()  # never because of an unrecorded item
    assert world.table_items() == []
    assert webhook.events() == ["old-key-retired"]
    assert mails() == {(ADMIN, "[ikr] unrecorded key deleted"): 1}  # the user was told at deactivation


def test_an_unrecorded_key_someone_reactivated_is_kept_for_good_and_told_once(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    item = unrecorded(world, "Active")
    records = expire(Stream(central, world), world, NOW)

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == {world.old, world.new}
    assert world.status(world.new) == "Active"
    assert world.parameter_exists()
    assert world.table_items() == []
    assert world.table.handled(item) is None  # the key's own place stays free for a later rotation
    assert webhook.events() == ["destruction-given-up"]
    assert webhook.received[0]["details"] == {"reason": "re-activated", "unrecorded": True}
    assert world.new in webhook.received[0]["text"]
    assert mails() == {(ADMIN, "[ikr] unrecorded key re-activated; kept"): 1}


def test_an_unrecorded_key_reactivated_after_the_decision_is_kept(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    unrecorded(world, "Inactive")
    records = expire(Stream(central, world), world, NOW)
    faults = Faults(monkeypatch)
    faults.crash_after("PutItem", when=_answer_written)  # decided "delete", died before deleting
    with pytest.raises(Crash):
        invoke(monkeypatch, records, NOW)
    faults.clear()
    world.iam.update_access_key(UserName="dave", AccessKeyId=world.new, Status="Active")  # a person wants it

    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == {world.old, world.new}
    assert world.table_items() == []
    assert webhook.events() == ["destruction-given-up"]


def test_an_unrecorded_key_already_gone_is_done_quietly(
    central: boto3.Session, world: Scene, webhook: WebhookSink, monkeypatch: pytest.MonkeyPatch
):
    unrecorded(world, "Inactive")
    world.iam.delete_access_key(UserName="dave", AccessKeyId=world.new)
    records = expire(Stream(central, world), world, NOW)

    assert invoke(monkeypatch, records, NOW) == []
    assert invoke(monkeypatch, records, NOW + LATER_BY) == []

    assert world.access_keys() == {world.old}
    assert world.parameter_exists()
    assert world.table_items() == []
    assert webhook.events() == []
    assert mails() == {}


# -- tombstones are no one else's business -----------------------------------------------------------------
def test_a_tombstone_neither_blocks_nor_changes_the_next_rotation_or_the_report(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    from central.clock import fixed_clock
    from central.domain.results import Outcome
    from central.report.collect import collect_report
    from central.rotation.run import run_rotation
    from tests.integration.fixtures_extra import LATER, clean_harness, key_ids, user_rows

    harness = clean_harness(central)
    prod = harness.world.account_ids["prod"]
    (retired,) = key_ids(harness, "prod", "alice")
    run_rotation(harness.services)  # alice's old key is due for deletion 3 days later
    stream = central.client("dynamodbstreams")
    checkpoint = Checkpoint(None)
    pump(stream, harness.table.stream_arn(), lambda _event, _context: {"batchItemFailures": []}, checkpoint)
    for name, value in {"MAIL_FROM": "ikr@example.com", "IAM_KEY_ROTATOR_TABLE": TABLE}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ikr-test")
    later = LATER + timedelta(days=4)
    harness.table.sweep(later)
    pump(stream, harness.table.stream_arn(), destructor.handler, checkpoint)
    tombstones = [raw for raw in harness.table._db.scan(TableName=TABLE)["Items"] if raw["state"]["S"] == "retired"]
    assert [raw["item_key"]["S"] for raw in tombstones] == [f"alice#{retired}"]
    harness.services.clock = fixed_clock(later)

    report = collect_report(harness.services)
    result = run_rotation(harness.services)

    (alice_row,) = [row for row in report.rows if row.user == "alice"]
    assert alice_row.pending == []
    (alice,) = user_rows(result, prod, "alice")
    assert alice.outcome is Outcome.ROTATED  # its new key is past its age now (moto dates keys today)
    assert [item.old_key_id for item in harness.table.for_account(prod)] == [alice.old_key_id]
