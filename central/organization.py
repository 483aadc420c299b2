"""Discovery: the Organization's ACTIVE accounts with their OU path and every scope's tags.

The tree is walked once from the root (OUs and accounts per parent, tags per node), so the cost is
one call per node and page, never a ListParents per account, which throttles past a few hundred
accounts. A caller in no Organization gets its own account alone: the original tool's mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from central.model import Account, OrgUnit, Tag

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient


@dataclass(frozen=True)
class Discovery:
    accounts: list[Account]
    standalone: bool  # True when the caller is in no Organization


def discover(org: OrganizationsClient, caller_account_id: str) -> Discovery:
    try:
        roots = org.list_roots()["Roots"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "AWSOrganizationsNotInUseException":
            return Discovery([Account(id=caller_account_id, name=caller_account_id)], standalone=True)
        raise
    accounts: list[Account] = []
    for root in roots:
        top = OrgUnit(id=root["Id"], name=root.get("Name", "Root"), tags=_tags(org, root["Id"]))
        accounts.extend(_walk(org, (top,)))
    return Discovery(sorted(accounts, key=lambda account: account.id), standalone=False)


def _walk(org: OrganizationsClient, path: tuple[OrgUnit, ...]) -> Iterator[Account]:
    parent = path[-1].id
    for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
        for account in page["Accounts"]:
            if account.get("Status", "ACTIVE") != "ACTIVE":
                continue
            yield Account(
                id=account["Id"], name=account.get("Name", account["Id"]), tags=_tags(org, account["Id"]), path=path
            )
    for units in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
        for unit in units["OrganizationalUnits"]:
            child = OrgUnit(id=unit["Id"], name=unit.get("Name", unit["Id"]), tags=_tags(org, unit["Id"]))
            yield from _walk(org, (*path, child))


def _tags(org: OrganizationsClient, resource_id: str) -> tuple[Tag, ...]:
    found: list[Tag] = []
    for page in org.get_paginator("list_tags_for_resource").paginate(ResourceId=resource_id):
        found.extend(Tag(key=tag["Key"], value=tag["Value"]) for tag in page["Tags"])
    return tuple(found)
