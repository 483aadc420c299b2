"""Which accounts a run manages: IKR:ENABLED inheritance, bad OU tags, `--account`, the standalone
mode of a caller in no Organization, and a dry run that writes nothing."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.clock import fixed_clock, system_clock
from central.domain.errors import UsageError
from central.domain.results import AccountStatus, Outcome
from central.rotation.run import run_rotation
from tests.integration.conftest import make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    clean_harness,
    client,
    items,
    key_ids,
    row,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
    standalone_services,
    user_rows,
)
from tests.support.world import AccountSpec, OrgSpec, UserSpec, add_users


def _user(name: str) -> UserSpec:
    return UserSpec(name, {"IKR:EMAIL": f"{name}@example.com"})


def test_ikr_enabled_is_inherited_from_the_nearest_scope_that_has_it(central: boto3.Session):
    spec = OrgSpec(
        root_tags={"IKR:ENABLED": "true"},
        ous={"Plain": {}, "Off": {"IKR:ENABLED": "false"}, "On": {"ikr:enabled": "TRUE"}},
        accounts=[
            AccountSpec("rootkid", None, {}, [_user("u1")]),
            AccountSpec("plain", "Plain", {}, [_user("u2")]),
            AccountSpec("off", "Off", {}, [_user("u3")]),
            AccountSpec("optin", "Off", {"IKR:ENABLED": "true"}, [_user("u4")]),
            AccountSpec("optout", "On", {"IKR:ENABLED": "false"}, [_user("u5")]),
            AccountSpec("deep", "Off", {}, [_user("u6")]),
        ],
    )
    harness = make_harness(central, spec)
    harness.services.clock = fixed_clock(LATER)
    world = harness.world
    ids = world.account_ids
    org = central.client("organizations")
    deep_ou = org.create_organizational_unit(ParentId=world.ou_ids["Off"], Name="Deep")["OrganizationalUnit"]["Id"]
    org.tag_resource(ResourceId=deep_ou, Tags=[{"Key": "IKR:ENABLED", "Value": "true"}])
    org.move_account(AccountId=ids["deep"], SourceParentId=world.ou_ids["Off"], DestinationParentId=deep_ou)

    result = run_rotation(harness.services)

    statuses = {account.account_name: account.status for account in result.accounts}
    assert statuses == {
        "master": AccountStatus.DONE,  # the management account sits under the root, too
        "rootkid": AccountStatus.DONE,
        "plain": AccountStatus.DONE,
        "off": AccountStatus.NOT_OPTED_IN,
        "optin": AccountStatus.DONE,
        "optout": AccountStatus.NOT_OPTED_IN,
        "deep": AccountStatus.DONE,
    }
    assert f"root {world.root_id} tag IKR:ENABLED" in row(result, ids["plain"]).detail
    assert f"account {ids['optin']} (optin) tag IKR:ENABLED" in row(result, ids["optin"]).detail
    assert f"OU {world.ou_ids['Off']} (Off) tag IKR:ENABLED" in row(result, ids["off"]).detail
    assert f"account {ids['optout']} (optout) tag IKR:ENABLED" in row(result, ids["optout"]).detail
    assert f"OU {deep_ou} (Deep) tag IKR:ENABLED" in row(result, ids["deep"]).detail
    assert row(result, ids["deep"]).ou_path == "Root/Off/Deep"
    rotated = {name: len(key_ids(harness, name, user)) for name, user in [("rootkid", "u1"), ("plain", "u2"),
               ("off", "u3"), ("optin", "u4"), ("optout", "u5"), ("deep", "u6")]}  # fmt: skip
    assert rotated == {"rootkid": 2, "plain": 2, "off": 1, "optin": 2, "optout": 1, "deep": 2}
    assert result.exit_code == 0


def test_a_bad_ou_tag_fails_the_accounts_below_it_naming_the_ou_and_tag(central: boto3.Session):
    spec = OrgSpec(
        ous={
            "Broken": {"IKR:ENABLED": "yes"},
            "Typo": {"IKR:ENABLED": "true", "IKR:ROTATE_AFTER_DAYS": "ninety"},
            "Good": {"IKR:ENABLED": "true"},
            "Off": {"IKR:ENABLED": "false", "IKR:DELETE_AFTER_DAYS": "soon"},
        },
        accounts=[
            AccountSpec("broken", "Broken", {}, [_user("b")]),
            AccountSpec("typo", "Typo", {}, [_user("t")]),
            AccountSpec("good", "Good", {}, [_user("g")]),
            AccountSpec("off", "Off", {}, [_user("o")]),
        ],
    )
    harness = make_harness(central, spec)
    harness.services.clock = fixed_clock(LATER)
    ids, ous = harness.world.account_ids, harness.world.ou_ids

    result = run_rotation(harness.services)

    broken = row(result, ids["broken"])
    assert broken.status is AccountStatus.FAILED
    assert f"OU {ous['Broken']} (Broken)" in broken.detail
    assert "IKR:ENABLED='yes' must be true or false" in broken.detail
    typo = row(result, ids["typo"])
    assert typo.status is AccountStatus.FAILED
    assert f"OU {ous['Typo']} (Typo)" in typo.detail
    assert "IKR:ROTATE_AFTER_DAYS='ninety'" in typo.detail
    assert len(key_ids(harness, "broken", "b")) == 1
    assert len(key_ids(harness, "typo", "t")) == 1
    assert [entry.outcome for entry in user_rows(result, ids["good"], "g")] == [Outcome.ROTATED]
    # a bad days tag where ikr does not work is no failure: the account is simply not opted in
    assert row(result, ids["off"]).status is AccountStatus.NOT_OPTED_IN
    assert result.exit_code == 1


def test_account_filter_rotates_only_the_named_accounts(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    faults = Faults(monkeypatch)

    result = run_rotation(harness.services, only=[ids["dev"], ids["prod"]])

    # The named accounts are looked up (central.aws.org_lookup), not found by walking every OU.
    organizations = faults.operations("organizations")
    assert "ListAccountsForParent" not in organizations
    assert "ListOrganizationalUnitsForParent" not in organizations
    assert organizations.count("ListRoots") == 1  # the roots read once for both
    assert organizations.count("DescribeAccount") == 2
    assert [account.account_id for account in result.accounts] == sorted([ids["dev"], ids["prod"]])


def test_account_filter_works_the_named_account_as_a_run_would(central: boto3.Session):
    harness = clean_harness(central)
    ids = harness.world.account_ids

    result = run_rotation(harness.services, only=[ids["dev"]])

    assert [account.account_id for account in result.accounts] == [ids["dev"]]
    assert [entry.outcome for entry in user_rows(result, ids["dev"], "dave")] == [Outcome.ROTATED]
    assert len(key_ids(harness, "prod", "alice")) == 1
    assert len(key_ids(harness, "ops", "olga")) == 1
    assert [mail.to for mail in harness.mailer.sent] == ["dave@example.com"]


def test_an_unknown_account_is_a_usage_error_before_anything_changes(
    central: boto3.Session, monkeypatch: pytest.MonkeyPatch
):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    faults = Faults(monkeypatch)

    with pytest.raises(UsageError, match="999999999999") as raised:
        run_rotation(harness.services, only=[ids["dev"], "999999999999"])

    assert ids["dev"] not in str(raised.value)
    assert faults.mutating() == []
    assert harness.mailer.sent == []
    assert len(key_ids(harness, "dev", "dave")) == 1


def test_a_caller_in_no_organization_manages_its_own_account(central: boto3.Session):
    services, mailer = standalone_services(central)
    services.clock = fixed_clock(LATER)
    add_users(
        central,
        [
            _user("solo"),
            UserSpec("fresh", {"IKR:EMAIL": "fresh@example.com", "IKR:ROTATE_AFTER_DAYS": "200"}),
            UserSpec("untagged", {}),
        ],
    )
    me = central.client("sts").get_caller_identity()["Account"]

    result = run_rotation(services)

    assert result.standalone
    (account,) = result.accounts
    assert account.account_id == me
    assert account.status is AccountStatus.DONE
    assert "standalone" in account.detail
    assert {entry.user: entry.outcome for entry in account.users} == {
        "solo": Outcome.ROTATED,
        "fresh": Outcome.NOT_DUE,
    }
    assert len(central.client("iam").list_access_keys(UserName="solo")["AccessKeyMetadata"]) == 2
    assert [mail.to for mail in mailer.sent] == ["solo@example.com"]
    (scheduled,) = services.table.for_account(me)
    assert (scheduled.user_name, scheduled.state) == ("solo", State.SCHEDULED)
    assert result.exit_code == 0


def test_dry_run_sends_no_write_call_to_aws(central: boto3.Session, monkeypatch: pytest.MonkeyPatch):
    harness = clean_harness(central)
    ids = harness.world.account_ids
    # Something for every write a real run would make: an interrupted rotation to undo (alice),
    # an overdue expiry item to sweep (bob's), due users to rotate (dave, olga).
    (alice_old,) = key_ids(harness, "prod", "alice")
    harness.table.begin(
        ExpiryItem(
            account_id=ids["prod"],
            user_name="alice",
            old_key_id=alice_old,
            state=State.STARTED,
            started_at=epoch(system_clock()),
        )
    )
    stray = client(harness, "prod", "iam").create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    (bob_old,) = key_ids(harness, "prod", "bob")
    harness.table.put(
        ExpiryItem(
            account_id=ids["prod"],
            user_name="bob",
            old_key_id=bob_old,
            state=State.SCHEDULED,
            started_at=epoch(LATER - timedelta(days=10)),
            expires_at=epoch(LATER - timedelta(days=1)),
        )
    )
    before = items(harness, "prod")
    faults = Faults(monkeypatch)

    result = run_rotation(harness.services, dry_run=True)

    assert faults.mutating() == []
    assert {"AssumeRole", "GetAccountAuthorizationDetails", "ListAccessKeys", "Query"} <= set(faults.operations())
    assert result.dry_run
    assert result.swept == 0
    outcomes = [entry.outcome for entry in user_rows(result, ids["prod"], "alice")]
    assert outcomes[0] is Outcome.WOULD_RECOVER
    assert stray in user_rows(result, ids["prod"], "alice")[0].detail
    for account, user in (("dev", "dave"), ("ops", "olga")):
        (entry,) = user_rows(result, ids[account], user)
        assert entry.outcome is Outcome.WOULD_ROTATE
        assert entry.old_key_deleted_at == LATER + timedelta(days=5)
        assert len(key_ids(harness, account, user)) == 1
    assert harness.mailer.sent == []
    assert items(harness, "prod") == before
    assert key_ids(harness, "prod", "alice") == [alice_old, stray]
