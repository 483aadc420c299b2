"""What `ikr deploy` needs to know about where it deploys: the Organization's id and roots, its
management account, and the caller's own account. Failures are `AwsError`s naming the call."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from central.aws import clients as aws
from central.aws.errors import aws_call, error_code, translate

if TYPE_CHECKING:
    from central.aws.sessions import Session

# Organizations' answer to a caller whose account belongs to no Organization.
_NOT_IN_USE = "AWSOrganizationsNotInUseException"


@dataclass(frozen=True)
class Organization:
    id: str
    management_account_id: str


@dataclass(frozen=True)
class Caller:
    account_id: str
    partition: str  # aws, aws-cn, aws-us-gov: from the caller's own ARN


class DeployTarget:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    @cached_property
    def caller(self) -> Caller:
        with aws_call("sts:GetCallerIdentity", "the caller"):
            me = aws.sts(self._session).get_caller_identity()
        return Caller(account_id=str(me["Account"]), partition=str(me["Arn"]).split(":")[1])

    @cached_property
    def organization(self) -> Organization | None:
        """The caller's Organization; None when its account belongs to none (a standalone account)."""
        where = self._their_organization()
        try:
            found = aws.organizations(self._session).describe_organization()["Organization"]
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == _NOT_IN_USE:
                return None
            raise translate(exc, "organizations:DescribeOrganization", where) from exc
        return Organization(id=str(found["Id"]), management_account_id=str(found["MasterAccountId"]))

    def _their_organization(self) -> str:
        """The Organization in an error message: by the caller's account, once known (`caller`)."""
        caller: Caller | None = self.__dict__.get("caller")  # set by the cached_property, never called here
        return f"the Organization of account {caller.account_id}" if caller else "the caller's Organization"

    def organization_id(self) -> str:
        with aws_call("organizations:DescribeOrganization", self._their_organization()):
            return str(aws.organizations(self._session).describe_organization()["Organization"]["Id"])

    def root_ids(self) -> list[str]:
        with aws_call("organizations:ListRoots", self._their_organization()):
            return [str(root["Id"]) for root in aws.organizations(self._session).list_roots()["Roots"]]

    def in_management_account(self) -> bool:
        """Whether the caller's credentials are the Organization's management account's."""
        with aws_call("sts:GetCallerIdentity", "the caller"):
            me = aws.sts(self._session).get_caller_identity()["Account"]
        with aws_call("organizations:DescribeOrganization", f"the Organization of account {me}"):
            management = aws.organizations(self._session).describe_organization()["Organization"]["MasterAccountId"]
        return me == management
