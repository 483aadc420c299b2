"""Issue 19 on moto in process: the fan-out rotator's Organizations calls on an Organization of a few
hundred accounts in several OUs (nested too), the opt-in the workers resolve against the one a full
discovery gives, and a run that does not fit one invocation going on in the next.

Bound of point 1 (docs/ARCHITECTURE.md, "Organizations of 10,000 accounts"): the rotator makes one
ListAccountsForParent per page of 20 accounts of a parent, one ListOrganizationalUnitsForParent per
parent and one ListTagsForResource per OU and root, plus ListRoots: never one call per account.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from central.aws.expiry_table import ExpiryTable
from central.aws.stream_pump import LocalLambdaContext
from central.aws.walk_position import WalkPositions
from central.rotation import continuation
from central.rotation.account_queue import AccountMessage
from central.rotation.run import account_scopes, scope_of
from central.settings import load_settings
from central.wiring import build_services
from handlers import rotator
from tests.bench.common import counting
from tests.integration.conftest import TABLE

SCHEDULE = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
PAGE = 20


@dataclass
class ScriptedContext(LocalLambdaContext):
    """A Lambda context whose remaining time follows a script (the last value stays)."""

    remaining: list[int] = field(default_factory=lambda: [900_000])

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


@dataclass
class Org:
    central: boto3.Session
    sqs: Any
    url: str
    accounts: dict[str, str]  # id -> name, every member account
    parents: int  # the root and every OU
    ous: int

    def drain(self) -> list[AccountMessage]:
        found: list[AccountMessage] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(AccountMessage.model_validate_json(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def build_org(central: boto3.Session, monkeypatch: pytest.MonkeyPatch, per_ou: list[int]) -> Org:
    """OUs under the root, every third one with a child OU; `per_ou[i]` accounts in OU i (its child
    gets a third of them). Opt-in is spread over every level: OU tags, account tags that say the
    opposite, the root's default days."""
    org = central.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.tag_resource(ResourceId=root, Tags=_tags({"IKR:ROTATE_AFTER_DAYS": "90"}))
    accounts: dict[str, str] = {}
    ous = 0
    for index, count in enumerate(per_ou):
        tags = {"IKR:ENABLED": "true"} if index % 2 == 0 else {}
        unit = org.create_organizational_unit(ParentId=root, Name=f"ou{index}", Tags=_tags(tags))["OrganizationalUnit"]
        ous += 1
        places = [unit["Id"]]
        if index % 3 == 0:
            child = org.create_organizational_unit(
                ParentId=unit["Id"], Name=f"ou{index}-child", Tags=_tags({"IKR:DELETE_AFTER_DAYS": "7"})
            )["OrganizationalUnit"]
            ous += 1
            places.append(child["Id"])
        for number in range(count):
            name = f"a{index}-{number}"
            own = {"IKR:ENABLED": "false"} if number % 7 == 3 else {"IKR:ENABLED": "true"} if number % 11 == 5 else {}
            made = org.create_account(Email=f"{name}@example.org", AccountName=name, Tags=_tags(own))
            account_id = made["CreateAccountStatus"]["AccountId"]
            accounts[account_id] = name
            place = places[number % 3 == 2 and len(places) > 1]
            org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=place)
    ExpiryTable(central.client("dynamodb"), TABLE).create()
    sqs = central.client("sqs")
    url = sqs.create_queue(QueueName="ikr-accounts")["QueueUrl"]
    for name, value in {
        "MAIL_FROM": "ikr@example.com",
        "IAM_KEY_ROTATOR_TABLE": TABLE,
        "IKR_ACCOUNT_QUEUE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    return Org(central, sqs, url, accounts, parents=ous + 1, ous=ous)


def test_the_fanout_rotator_calls_organizations_per_page_and_ou_never_per_account(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN 320 member accounts in 10 OUs, four of them with a child OU
    org = build_org(central, monkeypatch, [32] * 10)
    members = len(org.accounts) + 1  # and the management account, under the root

    # WHEN the scheduled rotator runs with the fan-out on
    with counting() as calls:
        queued = rotator.handler(SCHEDULE, LocalLambdaContext(function_name="ikr-rotator"))

    # THEN every account is queued once, and Organizations was called per page and OU, not per account
    assert queued["queued"] == members
    assert queued["finished"] is True
    organizations = {name: count for name, count in calls.items() if name.startswith("organizations:")}
    assert "organizations:ListParents" not in organizations
    assert organizations["organizations:ListTagsForResource"] == org.ous + 1  # each OU and the root
    assert organizations["organizations:ListOrganizationalUnitsForParent"] == org.parents
    total = sum(organizations.values())
    # One call per 20 accounts, plus each parent's partial page; two per OU (its OUs, its tags); ListRoots,
    # the root's OUs and tags. No tree walk does with less: Organizations lists a parent's accounts and
    # its OUs in separate calls, and an OU's tags in a third.
    pages = organizations["organizations:ListAccountsForParent"]
    assert pages <= members / PAGE + org.parents
    assert total == pages + 2 * org.ous + 3
    assert total < members / 4  # whatever the shape, far from one call per account
    messages = org.drain()
    assert sorted(message.account.id for message in messages) == sorted([*org.accounts, org_management(central)])

    # AND the policy each worker resolves from the account's own tags and the message's OU tags is the
    # one a full discovery (the report's) gives: nearest of account, OUs, root, exactly as before
    services = build_services(load_settings(), purpose="rotate")
    expected = {scope.account.id: scope for scope in account_scopes(services)[0]}
    for message in messages:
        mine = scope_of(services, message.account, standalone=False)
        theirs = expected[message.account.id]
        assert (mine.opt_in, mine.rotate_after, mine.delete_after, mine.problems) == (
            theirs.opt_in,
            theirs.rotate_after,
            theirs.delete_after,
            theirs.problems,
        )
        assert mine.account.path == tuple(unit for unit in theirs.account.path)
    managed = sum(1 for scope in expected.values() if scope.enabled)
    assert 0 < managed < len(expected)  # both kinds are in the world


def org_management(central: boto3.Session) -> str:
    return str(central.client("sts").get_caller_identity()["Account"])


def test_a_run_short_of_time_saves_its_walk_and_the_next_invocation_goes_on_without_repeating(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN 75 member accounts in three OUs, and a rotator whose own re-invocation is recorded
    org = build_org(central, monkeypatch, [25, 25, 25])
    relaunched: list[tuple[str, str]] = []
    monkeypatch.setattr(continuation, "relaunch", lambda _s, function, run_id: relaunched.append((function, run_id)))
    context = ScriptedContext(function_name="ikr-rotator")

    # WHEN the first invocation has time for two pages of the walk only
    context.remaining = [900_000, 900_000, 60_000]
    first = rotator.handler(SCHEDULE, context)

    # THEN it stops short, saves where it stood, and invokes itself again with the run's id
    assert first["finished"] is False
    assert first["queued"] > 0
    assert relaunched == [("ikr-rotator", first["run_id"])]
    position, _ = WalkPositions(central.client("dynamodb"), TABLE).load()
    assert position is not None
    assert (position.run_id, position.finished, position.queued) == (first["run_id"], False, first["queued"])

    # WHEN a scheduled run fires meanwhile (the re-invocation is slow): it continues that run, not a new one
    context.remaining = [900_000, 60_000]
    second = rotator.handler(SCHEDULE, context)
    assert (second["run_id"], second["part"], second["finished"]) == (first["run_id"], 2, False)

    # AND the re-invocation continues from there to the end
    context.remaining = [900_000]
    third = rotator.handler(continuation.continue_event(first["run_id"]), context)
    assert (third["run_id"], third["part"], third["finished"]) == (first["run_id"], 3, True)

    # THEN every account was queued exactly once over the three invocations
    ids = Counter(message.account.id for message in org.drain())
    assert set(ids) == {*org.accounts, org_management(central)}
    assert max(ids.values()) == 1
    assert first["queued"] + second["queued"] + third["queued"] == len(ids)

    # AND a late duplicate of the re-invocation finds nothing to continue, and queues nothing
    again = rotator.handler(continuation.continue_event(first["run_id"]), context)
    assert again["queued"] == 0
    assert org.drain() == []
    # AND the next scheduled run is a new run over every account
    fresh = rotator.handler(SCHEDULE, context)
    assert fresh["run_id"] != first["run_id"]
    assert fresh["queued"] == len(ids)
    assert len(relaunched) == 2  # the second invocation stopped short too
    assert len(org.drain()) == len(ids)
