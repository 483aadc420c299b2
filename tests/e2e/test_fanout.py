"""The fan-out on AWS, on a moto server: the rotator queues one message per opted-in account, the
account worker is handed what the queue delivers (as Lambda's event source mapping would), answers a
partial batch failure for an account that may pass, drops a malformed message, and queues the rest
of an account when its time runs low."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.domain.scope import Days, resolve
from central.domain.sources import OptInReason, Source
from central.rotation.account_queue import AccountMessage
from handlers import account_worker, rotator
from tests.e2e.conftest import DAY_100
from tests.integration.faults import Faults
from tests.support.servers import MAIL_FROM, TABLE
from tests.support.world import AccountSpec, OrgSpec, UserSpec, World, build_world

pytestmark = pytest.mark.e2e

SPEC = OrgSpec(
    ous={"Workloads": {"IKR:ENABLED": "true"}, "Sandbox": {}},
    accounts=[
        AccountSpec(
            "prod",
            "Workloads",
            {},
            [
                UserSpec("alice", {"IKR:EMAIL": "alice@example.com"}),
                UserSpec("ann", {"IKR:EMAIL": "ann@example.com"}),
                UserSpec("bob", {"IKR:EMAIL": "bob@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
            ],
        ),
        AccountSpec("dev", "Workloads", {}, [UserSpec("dave", {"IKR:EMAIL": "dave@example.com"})]),
        AccountSpec("ops", "Workloads", {}, [UserSpec("olga", {"IKR:EMAIL": "olga@example.com"})]),
        AccountSpec("sandbox", "Sandbox", {}, [UserSpec("sam", {"IKR:EMAIL": "sam@example.com"})]),
    ],
)
SCHEDULE = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@dataclass
class ScriptedContext(LocalLambdaContext):
    """A Lambda context whose remaining time follows a script (the last value stays)."""

    remaining: list[int] = field(default_factory=lambda: [900_000])

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


@dataclass
class Fanout:
    world: World
    sqs: Any
    url: str

    def keys(self, account: str, user: str) -> int:
        iam = self.world.session(self.world.account_ids[account]).client("iam")
        return len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"])

    def receive(self, count: int) -> list[dict[str, Any]]:
        """`count` messages, as the event source mapping would take them from the queue."""
        got: list[dict[str, Any]] = []
        for _ in range(10):
            answer = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            )
            got.extend(answer.get("Messages", []))
            if len(got) >= count:
                break
        assert len(got) == count, [message["Body"][:80] for message in got]
        return got

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                }
                for message in messages
            ]
        }

    def settle(self, messages: list[dict[str, Any]], response: dict[str, Any]) -> None:
        """What the event source mapping does with the answer: delete the messages handled, make the
        failed ones visible again at once (instead of after the visibility timeout)."""
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def fanout(central: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> Fanout:
    world = build_world(central, SPEC)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    central.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)
    sqs = central.client("sqs")
    url = sqs.create_queue(QueueName="ikr-accounts", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    for name, value in {
        "MAIL_FROM": MAIL_FROM,
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_NOW": DAY_100,  # keys made today are 100 days old: past the default 85
        "IKR_ACCOUNT_QUEUE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MAIL_CLIENT", "SMTP_SERVER"):
        monkeypatch.delenv(name, raising=False)
    return Fanout(world, sqs, url)


def _emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_the_rotator_queues_each_opted_in_account_and_the_worker_retries_only_what_may_pass(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    ids = fanout.world.account_ids

    # WHEN the schedule fires
    queued = rotator.handler(SCHEDULE, LocalLambdaContext(function_name="ikr-rotator"))

    # THEN one message per ACTIVE account is queued, its own tags unread: the worker reads them and
    # decides the opt-in (docs/ARCHITECTURE.md, "Organizations of 10,000 accounts")
    assert queued["queued"] == 5
    assert queued["accounts"] == []
    assert queued["finished"] is True
    (emf,) = _emf(capsys.readouterr().out)
    assert (emf["AccountsQueued"], emf["AccountsScanned"]) == ([5.0], [5.0])
    messages = fanout.receive(5)
    by_account = {AccountMessage.model_validate_json(m["Body"]).account.id: m for m in messages}
    assert len(by_account) == 5
    assert {ids["prod"], ids["dev"], ids["ops"], ids["sandbox"]} < set(by_account)  # and the management account
    prod = AccountMessage.model_validate_json(by_account[ids["prod"]]["Body"])
    assert (prod.run_id, prod.now.isoformat(), prod.part) == (queued["run_id"], queued["now"].replace("Z", "+00:00"), 1)
    assert prod.account.ou_path == "Root/Workloads"
    assert prod.needs_scope
    assert prod.account.tags == ()
    workloads = prod.account.path[-1]
    assert [(tag.key, tag.value) for tag in workloads.tags] == [("IKR:ENABLED", "true")]
    assert prod.resolved(resolve(prod.account, 85, 5)).rotate_after == Days(
        days=85, source=Source.setting("ROTATE_AFTER_DAYS")
    )

    # WHEN the worker gets the batch while dev's AssumeRole is throttled past every retry
    faults = Faults(monkeypatch)
    faults.refuse(
        "AssumeRole", code="Throttling", status=400, when=lambda params: f"::{ids['dev']}:" in params["RoleArn"]
    )
    response = account_worker.handler(fanout.event(messages), ScriptedContext(function_name="ikr-account-worker"))
    faults.clear()

    # THEN only dev is handed back to SQS; prod and ops are rotated
    assert response == {"batchItemFailures": [{"itemIdentifier": by_account[ids["dev"]]["MessageId"]}]}
    assert (fanout.keys("prod", "alice"), fanout.keys("prod", "ann"), fanout.keys("prod", "bob")) == (2, 2, 1)
    assert (fanout.keys("ops", "olga"), fanout.keys("dev", "dave")) == (2, 1)
    (emf,) = _emf(capsys.readouterr().out)
    assert (emf["UsersRotated"], emf["AccountsWorked"], emf["AccountsFailed"]) == ([3.0], [3.0], [1.0])
    assert emf["AccountsNotOptedIn"] == [2.0]  # master and sandbox: decided by the worker from their tags

    # WHEN SQS delivers dev's message again
    fanout.settle(messages, response)
    (again,) = fanout.receive(1)
    assert again["MessageId"] == by_account[ids["dev"]]["MessageId"]
    response = account_worker.handler(fanout.event([again]), ScriptedContext(function_name="ikr-account-worker"))

    # THEN dave is rotated, and the queue is empty once the batch is settled
    assert response == {"batchItemFailures": []}
    assert fanout.keys("dev", "dave") == 2
    fanout.settle([again], response)
    assert fanout.waiting() == 0
    sent = fanout.world.central.client("ses").get_send_statistics()["SendDataPoints"]
    assert sum(point["DeliveryAttempts"] for point in sent) == 4  # alice, ann, olga, dave


def _prod_message_alone(fanout: Fanout) -> dict[str, Any]:
    """A scheduled run's message for prod, the others settled (not the test's)."""
    prod_id = fanout.world.account_ids["prod"]
    rotator.handler(SCHEDULE, LocalLambdaContext(function_name="ikr-rotator"))
    messages = fanout.receive(5)
    prod = next(m for m in messages if AccountMessage.model_validate_json(m["Body"]).account.id == prod_id)
    fanout.settle([m for m in messages if m is not prod], {"batchItemFailures": []})
    return prod


def test_a_malformed_message_is_dropped_and_a_worker_low_on_time_queues_the_rest_of_the_account(
    fanout: Fanout, caplog: pytest.LogCaptureFixture
):
    prod = _prod_message_alone(fanout)
    fanout.sqs.send_message(QueueUrl=fanout.url, MessageBody='{"account": "not an account message"}')
    (bad,) = fanout.receive(1)

    # WHEN the worker has time to start prod's first due user (alice) but not the second (ann)
    context = ScriptedContext(function_name="ikr-account-worker", remaining=[900_000, 900_000, 30_000])
    with caplog.at_level(logging.ERROR, logger="ikr"):
        response = account_worker.handler(fanout.event([prod, bad]), context)

    # THEN nothing is handed back: the malformed message is logged with its id and dropped, and the
    # rest of prod is a new message, part 2 of the same run
    assert response == {"batchItemFailures": []}
    (dropped,) = [record for record in caplog.records if record.getMessage() == "not an account message; dropped"]
    assert dropped.message_id == bad["MessageId"]  # type: ignore[attr-defined]
    assert (fanout.keys("prod", "alice"), fanout.keys("prod", "ann")) == (2, 1)
    fanout.settle([prod, bad], response)
    (rest,) = fanout.receive(1)
    first, second = (AccountMessage.model_validate_json(m["Body"]) for m in (prod, rest))
    # the rest carries the policy the worker resolved from prod's tags: no second tag read
    assert (second.version, second.part, second.run_id, second.account.id) == (2, 2, first.run_id, first.account.id)
    assert second.opt_in is not None
    assert second.opt_in.reason is OptInReason.TAG
    assert second.rotate_after == Days(days=85, source=Source.setting("ROTATE_AFTER_DAYS"))

    # WHEN the next part is worked with time enough
    response = account_worker.handler(fanout.event([rest]), ScriptedContext(function_name="ikr-account-worker"))

    # THEN ann is rotated, alice is not rotated twice
    assert response == {"batchItemFailures": []}
    assert (fanout.keys("prod", "alice"), fanout.keys("prod", "ann"), fanout.keys("prod", "bob")) == (2, 2, 1)
    fanout.settle([rest], response)
    assert fanout.waiting() == 0


def test_an_account_whose_tags_are_throttled_past_every_retry_goes_back_to_the_queue_not_to_sqs_retries(
    fanout: Fanout, monkeypatch: pytest.MonkeyPatch
):
    ids = fanout.world.account_ids
    prod = _prod_message_alone(fanout)

    # WHEN the worker reads prod's own tags while Organizations throttles past every retry
    faults = Faults(monkeypatch)
    faults.refuse(
        "ListTagsForResource",
        code="TooManyRequestsException",
        status=400,
        when=lambda params: params.get("ResourceId") == ids["prod"],
    )
    response = account_worker.handler(fanout.event([prod]), ScriptedContext(function_name="ikr-account-worker"))
    faults.clear()

    # THEN the delivery succeeds (no receive counts towards the dead-letter queue) and prod is queued
    # again, its policy still to be resolved, as its next part; nothing was rotated yet
    assert response == {"batchItemFailures": []}
    assert fanout.keys("prod", "alice") == 1
    fanout.settle([prod], response)
    (rest,) = fanout.receive(1)
    again = AccountMessage.model_validate_json(rest["Body"])
    assert (again.part, again.needs_scope, again.account.id) == (2, True, ids["prod"])

    # WHEN the next part comes with Organizations answering again
    response = account_worker.handler(fanout.event([rest]), ScriptedContext(function_name="ikr-account-worker"))

    # THEN prod is rotated
    assert response == {"batchItemFailures": []}
    assert (fanout.keys("prod", "alice"), fanout.keys("prod", "ann")) == (2, 2)
