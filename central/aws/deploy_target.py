"""What `ikr deploy` needs to know about where it deploys: the Organization's id and roots, its
management account, and the caller's own account. Failures are `AwsError`s naming the call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.aws import clients as aws
from central.aws.errors import aws_call

if TYPE_CHECKING:
    from central.aws.sessions import Session


class DeployTarget:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    def organization_id(self) -> str:
        with aws_call("organizations:DescribeOrganization", "the caller's Organization"):
            return str(aws.organizations(self._session).describe_organization()["Organization"]["Id"])

    def root_ids(self) -> list[str]:
        with aws_call("organizations:ListRoots", "the caller's Organization"):
            return [str(root["Id"]) for root in aws.organizations(self._session).list_roots()["Roots"]]

    def in_management_account(self) -> bool:
        """Whether the caller's credentials are the Organization's management account's."""
        with aws_call("sts:GetCallerIdentity", "the caller"):
            me = aws.sts(self._session).get_caller_identity()["Account"]
        with aws_call("organizations:DescribeOrganization", "the caller's Organization"):
            management = aws.organizations(self._session).describe_organization()["Organization"]["MasterAccountId"]
        return me == management
