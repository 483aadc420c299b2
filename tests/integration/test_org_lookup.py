"""One account looked up directly (`central.aws.org_lookup`) for `ikr rotate --now-due` and exposed keys.

A three-level OU tree on moto: the account found equals the one the walk of the whole tree yields
(path, names, `IKR:` tags of every OU and the root, state, management flag); finding it costs the same
13 Organizations calls however many accounts and OUs the rest of the tree holds; an account the
Organization does not have, a suspended one, and another account than the caller's own in no
Organization are refused with the same words as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.handlers
import pytest

from central.aws.org_lookup import look_up_many
from central.collaborators import Services
from central.domain.model import Account
from central.rotation.on_demand import OnDemand, OnDemandRefused, find_account, rotate_on_demand
from central.rotation.run import run_accounts
from tests.integration.conftest import make_services
from tests.integration.faults import Faults
from tests.support.world import UserSpec, add_users, session_in

# Root → Platform → Teams → Payments → the account; the account's opt-in comes from the root's tag,
# its days from Platform's and Payments' (ikr's tags only: the others are no part of an OrgUnit).
TREE = {
    "Platform": ({"IKR:DELETE_AFTER_DAYS": "5", "cost-centre": "42"}, None),
    "Teams": ({}, "Platform"),
    "Payments": ({"IKR:ROTATE_AFTER_DAYS": "30", "owner": "payments"}, "Teams"),
}
# What looking up an account 3 OU levels down costs: ListRoots and the root's tags, DescribeAccount,
# ListParents from the account to the root (4), each OU's name and tags (3 x 2).
THREE_LEVELS = Counter(
    {
        "organizations:ListRoots": 1,
        "organizations:DescribeAccount": 1,
        "organizations:ListParents": 4,
        "organizations:DescribeOrganizationalUnit": 3,
        "organizations:ListTagsForResource": 4,
    }
)
REFUSED = "account {} is not an ACTIVE account of this Organization"


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


class Tree:
    """The Organization: a three-level OU chain with an account at its foot, plus whatever `grow` adds."""

    def __init__(self, central: boto3.Session) -> None:
        self.central = central
        self.org = central.client("organizations")
        self.org.create_organization(FeatureSet="ALL")
        self.root = self.org.list_roots()["Roots"][0]["Id"]
        self.org.tag_resource(ResourceId=self.root, Tags=_tags({"IKR:ENABLED": "true", "team": "cloud"}))
        self.ous: dict[str, str] = {}
        for name, (tags, parent) in TREE.items():
            self.ous[name] = self.ou(name, self.ous[parent] if parent else self.root, tags)
        self.deep = self.account("payments-prod", self.ous["Payments"])
        self.shallow = self.account("platform-dev", self.ous["Platform"])
        self.flat = self.account("audit", None)
        add_users(session_in(central, self.deep), [UserSpec("alice", {"IKR:EMAIL": "alice@example.com"})])

    def ou(self, name: str, parent: str, tags: dict[str, str] | None = None) -> str:
        unit: str = self.org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
        if tags:
            self.org.tag_resource(ResourceId=unit, Tags=_tags(tags))
        return unit

    def account(self, name: str, parent: str | None) -> str:
        status = self.org.create_account(Email=f"{name}@example.org", AccountName=name)["CreateAccountStatus"]
        account_id: str = status["AccountId"]
        if parent is not None:
            self.org.move_account(AccountId=account_id, SourceParentId=self.root, DestinationParentId=parent)
        return account_id

    def grow(self, ous: int, accounts_each: int) -> None:
        """More OUs and accounts beside the chain: more work for a walk, none for a lookup."""
        for n in range(ous):
            unit = self.ou(f"Other{n}", self.ous["Teams"] if n % 2 else self.root, {"IKR:ENABLED": "false"})
            for m in range(accounts_each):
                self.account(f"other-{n}-{m}", unit)


@pytest.fixture
def tree(central: boto3.Session) -> Tree:
    return Tree(central)


@pytest.fixture
def services(central: boto3.Session, tree: Tree) -> Services:
    return make_services(central)[0]


def _walked(services: Services, account_id: str) -> Account:
    accounts, standalone = run_accounts(services)
    assert not standalone
    (walked,) = (account for account in accounts if account.id == account_id)
    return walked


def test_the_account_found_is_the_one_the_walk_yields(tree: Tree, services: Services) -> None:
    for account_id in (tree.deep, tree.shallow, tree.flat, services.broker.central_account_id):
        found, standalone = find_account(services, account_id)
        assert not standalone
        assert found == _walked(services, account_id)

    deep, _ = find_account(services, tree.deep)
    assert deep.ou_path == "Root/Platform/Teams/Payments"
    assert [unit.id for unit in deep.path] == [tree.root, tree.ous["Platform"], tree.ous["Teams"], tree.ous["Payments"]]
    assert [{tag.key: tag.value for tag in unit.tags} for unit in deep.path] == [
        {"IKR:ENABLED": "true"},
        {"IKR:DELETE_AFTER_DAYS": "5"},
        {},
        {"IKR:ROTATE_AFTER_DAYS": "30"},
    ]
    assert (deep.name, deep.state, deep.management) == ("payments-prod", "ACTIVE", False)
    management, _ = find_account(services, services.broker.central_account_id)
    assert management.management
    assert management.ou_path == "Root"


def test_an_on_demand_rotation_takes_the_policy_of_every_ou_on_the_path(tree: Tree, services: Services) -> None:
    result = rotate_on_demand(services, OnDemand(account_id=tree.deep, user="alice", reason="left the team"))

    (row,) = result.accounts
    assert row.ou_path == "Root/Platform/Teams/Payments"
    (user,) = row.users
    assert user.outcome.value == "rotated", user
    (item,) = services.table.for_user(tree.deep, "alice")
    # Platform's IKR:DELETE_AFTER_DAYS=5: the old key goes five days after the rotation.
    assert item.expires_at is not None
    assert item.started_at is not None
    assert item.expires_at - item.started_at == pytest.approx(5 * 86400, abs=120)


def test_finding_an_account_costs_the_same_calls_however_big_the_tree(
    tree: Tree, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(monkeypatch)

    def calls(find: Callable[[], object]) -> Counter[str]:
        faults.calls.clear()
        find()
        return Counter(f"{call.service}:{call.operation}" for call in faults.calls if call.service == "organizations")

    looked_up = calls(lambda: find_account(services, tree.deep))
    walked = calls(lambda: run_accounts(services))
    assert looked_up == THREE_LEVELS

    tree.grow(ous=6, accounts_each=25)  # 150 accounts more, in 6 OUs more

    assert calls(lambda: find_account(services, tree.deep)) == THREE_LEVELS
    walked_grown = calls(lambda: run_accounts(services))
    assert sum(walked_grown.values()) > sum(walked.values())
    print(
        f"\nfinding one account 3 OU levels down: {sum(looked_up.values())} Organizations calls; walking the tree: "
        f"{sum(walked.values())} (4 accounts, 3 OUs), {sum(walked_grown.values())} (154 accounts, 9 OUs)"
    )
    assert sum(calls(lambda: find_account(services, tree.flat)).values()) == 4  # under the root: no OU


def test_an_account_the_organization_does_not_have_is_refused(tree: Tree, services: Services) -> None:
    for account_id in ("999999999999", "not-an-id"):
        with pytest.raises(OnDemandRefused) as refused:
            find_account(services, account_id)
        assert str(refused.value) == REFUSED.format(account_id)
    with pytest.raises(OnDemandRefused, match=REFUSED.format("999999999999")):
        rotate_on_demand(services, OnDemand(account_id="999999999999", user="alice", reason="x"))


def test_a_suspended_account_is_refused_as_the_walk_leaves_it_out(tree: Tree, services: Services) -> None:
    tree.org.close_account(AccountId=tree.shallow)  # moto: SUSPENDED at once

    with pytest.raises(OnDemandRefused) as refused:
        find_account(services, tree.shallow)

    assert str(refused.value) == REFUSED.format(tree.shallow)
    assert tree.shallow not in {account.id for account in run_accounts(services)[0]}


@pytest.fixture
def state_only(central: boto3.Session) -> Iterator[dict[str, str]]:
    """DescribeAccount and ListAccountsForParent answering `State` alone, as AWS does since 2026-09-09."""
    states: dict[str, str] = {}

    def rewrite(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for account in [parsed["Account"]] if "Account" in parsed else parsed.get("Accounts", []):
            account.pop("Status", None)
            account["State"] = states.get(account["Id"], "ACTIVE")

    specs = [(f"after-call.organizations.{op}", rewrite) for op in ("DescribeAccount", "ListAccountsForParent")]
    for spec in specs:
        central.events.register(*spec)
        botocore.handlers.BUILTIN_HANDLERS.append(spec)
    try:
        yield states
    finally:
        for spec in specs:
            botocore.handlers.BUILTIN_HANDLERS.remove(spec)


def test_states_are_judged_as_the_walk_judges_them(tree: Tree, services: Services, state_only: dict[str, str]) -> None:
    state_only[tree.deep] = "PENDING_CLOSURE"
    state_only[tree.shallow] = "MIGRATING"  # a state ikr does not know: kept, for its row to say so

    with pytest.raises(OnDemandRefused, match=REFUSED.format(tree.deep)):
        find_account(services, tree.deep)
    found, _ = find_account(services, tree.shallow)
    assert found == _walked(services, tree.shallow)
    assert found.state == "MIGRATING"
    with pytest.raises(OnDemandRefused, match=r"is not worked by ikr \(failed\): account state MIGRATING is unknown"):
        rotate_on_demand(services, OnDemand(account_id=tree.shallow, reason="x"))


def test_a_caller_in_no_organization_finds_its_own_account_only(central: boto3.Session) -> None:
    services, _ = make_services(central)
    own = services.broker.central_account_id
    assert look_up_many(central.client("organizations"), [own]).standalone

    found, standalone = find_account(services, own)

    assert standalone
    assert found == Account(id=own, name=own)
    with pytest.raises(OnDemandRefused) as refused:
        find_account(services, "999999999999")
    assert str(refused.value) == REFUSED.format("999999999999")
