"""How `ikr deploy` picks its mode from where it runs: an Organization, a standalone account (by
itself or `--standalone`), and what it says to the central account of the management account's
member role. The target is a stand-in: its answers are the ones DeployTarget gives (tested on
Stubber in tests/unit/test_aws_edge_adapters.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from central.aws.deploy_target import Caller, Organization
from central.aws.errors import AwsAccessDenied
from central.cli.main import parser
from central.deploy.command import management_account_hint, organization_of, standalone_parameters
from central.deploy.options import options_from
from central.domain.errors import UsageError

ORG = Organization(id="o-abcdefghij", management_account_id="111111111111")
CALLER = Caller(account_id="222222222222", partition="aws")


@dataclass
class Target:
    found: Organization | AwsAccessDenied | None
    caller: Caller = CALLER

    @property
    def organization(self) -> Organization | None:
        if isinstance(self.found, AwsAccessDenied):
            raise self.found
        return self.found


def test_an_account_in_an_organization_deploys_for_the_organization(capsys) -> None:
    assert organization_of(Target(ORG), standalone=False) == ORG
    assert capsys.readouterr().out == ""


def test_an_account_in_no_organization_is_standalone_by_itself(capsys) -> None:
    assert organization_of(Target(None), standalone=False) is None
    assert "account 222222222222 is in no Organization: a standalone deployment" in capsys.readouterr().out


def test_standalone_is_refused_in_an_organization_and_trusted_when_the_organization_cannot_be_read(capsys) -> None:
    with pytest.raises(UsageError, match="--standalone: account 222222222222 is in Organization o-abcdefghij"):
        organization_of(Target(ORG), standalone=True)
    denied = AwsAccessDenied("organizations:DescribeOrganization", "the caller's Organization", "AccessDenied")
    assert organization_of(Target(denied), standalone=True) is None
    assert "--standalone: the Organization was not checked" in capsys.readouterr().out


def test_a_standalone_stack_works_its_own_account_and_refuses_contrary_parameters(capsys) -> None:
    assert standalone_parameters({"MailFrom": "ikr@example.com"}, "222222222222") == {
        "OrganizationId": "",
        "ManageCentralAccount": "true",
    }
    assert "no StackSet, no member role" in capsys.readouterr().out
    with pytest.raises(UsageError, match="not ManageCentralAccount=false"):
        standalone_parameters({"ManageCentralAccount": "false"}, "222222222222")
    with pytest.raises(UsageError, match="not OrganizationId=o-abcdefghij"):
        standalone_parameters({"OrganizationId": "o-abcdefghij"}, "222222222222")


def test_the_central_account_is_told_of_the_management_accounts_member_role() -> None:
    assert management_account_hint("111111111111") == (
        "management account 111111111111: StackSets never deploy to it, so it has no member role; "
        "to manage its users, run `ikr deploy --management-account` with its credentials"
    )


def test_a_bucket_is_needed_except_for_the_member_role_alone() -> None:
    with pytest.raises(UsageError, match=r"^invalid deploy options: Value error, --bucket is required"):
        options_from(parser().parse_args(["deploy"]))
    alone = options_from(parser().parse_args(["deploy", "--management-account", "--parameter", "ExternalId=x1"]))
    assert (alone.bucket, alone.management_account, alone.member_stack_name) == (None, True, "ikr-member-role")
    with pytest.raises(SystemExit):  # argparse: the two modes exclude each other (exit 2)
        parser().parse_args(["deploy", "--standalone", "--management-account"])
