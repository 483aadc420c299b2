"""Discovery: the Organization's ACTIVE accounts with their OU path and every scope's tags.

The tree is walked once from the root (OUs and accounts per parent, tags per node), so the cost is
one call per node and page, never a ListParents per account, which throttles past a few hundred
accounts. The tags of each page's accounts are read on a few threads. A caller in no Organization
gets its own account alone: the original tool's mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from central.aws import clients
from central.aws.errors import aws_call, translate
from central.concurrency import ordered_map
from central.domain.model import Account, OrgUnit, Tag

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

    from central.aws.sessions import Session


@dataclass(frozen=True)
class Discovery:
    accounts: list[Account]
    standalone: bool  # True when the caller is in no Organization


# Accounts' tags are read a few at a time: ListTagsForResource is one call per account (the tags
# are in no listing), and Organizations' rate limits are low and shared by the whole Organization.
TAG_READERS = 4


def discover_from(central: Session, caller_account_id: str) -> Discovery:
    """The discovery as the central account's session sees it."""
    return discover(clients.organizations(central), caller_account_id)


def discover(org: OrganizationsClient, caller_account_id: str) -> Discovery:
    """Failures come out as `AwsError`s (central.aws.errors) naming the call and the node."""
    try:
        roots = org.list_roots()["Roots"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "AWSOrganizationsNotInUseException":
            return Discovery([Account(id=caller_account_id, name=caller_account_id)], standalone=True)
        raise translate(exc, "organizations:ListRoots", "the Organization") from exc
    accounts: list[Account] = []
    for root in roots:
        top = OrgUnit(id=root["Id"], name=root.get("Name", "Root"), tags=_tags(org, root["Id"]))
        accounts.extend(_walk(org, (top,)))
    management = {_management_account_id(root) for root in roots}
    accounts = [
        account.model_copy(update={"management": True}) if account.id in management else account for account in accounts
    ]
    return Discovery(sorted(accounts, key=lambda account: account.id), standalone=False)


def _management_account_id(root: Any) -> str:
    """A root's ARN names the management account (arn:aws:organizations::<management>:root/o-.../r-...):
    known without organizations:DescribeOrganization, a call the rotator's role is not given."""
    return str(root.get("Arn", "")).split(":")[4] if str(root.get("Arn", "")).count(":") >= 5 else ""


def _walk(org: OrganizationsClient, path: tuple[OrgUnit, ...]) -> Iterator[Account]:
    parent = path[-1].id
    for page in _pages(org, "ListAccountsForParent", parent, ParentId=parent):
        active = [account for account in page["Accounts"] if account.get("Status", "ACTIVE") == "ACTIVE"]
        tags = ordered_map([account["Id"] for account in active], lambda i: _tags(org, i), TAG_READERS, name="ikr-tags")
        for account, account_tags in zip(active, tags, strict=True):
            yield Account(id=account["Id"], name=account.get("Name", account["Id"]), tags=account_tags, path=path)
    for units in _pages(org, "ListOrganizationalUnitsForParent", parent, ParentId=parent):
        for unit in units["OrganizationalUnits"]:
            child = OrgUnit(id=unit["Id"], name=unit.get("Name", unit["Id"]), tags=_tags(org, unit["Id"]))
            yield from _walk(org, (*path, child))


def _tags(org: OrganizationsClient, resource_id: str) -> tuple[Tag, ...]:
    found: list[Tag] = []
    for page in _pages(org, "ListTagsForResource", resource_id, ResourceId=resource_id):
        found.extend(Tag(key=tag["Key"], value=tag["Value"]) for tag in page["Tags"])
    return tuple(found)


def _pages(org: OrganizationsClient, operation: str, node: str, **params: str) -> Iterator[Any]:
    """The pages of a listing about one node (root, OU or account), its failures as `AwsError`s."""
    snake = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in operation).lstrip("_")
    with aws_call(f"organizations:{operation}", f"node {node}"):
        yield from org.get_paginator(snake).paginate(**params)  # type: ignore[call-overload]
