"""The Organization's tree, walked one page at a time from a position that can be written down.

The walk is a stack of frames, one per parent (root or OU) still being listed: first its accounts,
page by page (ListAccountsForParent, 20 a page), then its OUs (ListOrganizationalUnitsForParent, 20 a
page), each OU's tags read (ListTagsForResource) and pushed as a frame of its own. Every step yields a
`WalkPage`: the accounts it found (their own tags not read: that is one call per account, made where
the account is worked, see docs/ARCHITECTURE.md "Organizations of 10,000 accounts") and the cursor
after it. A caller that has handled a page may stop and keep `after`; `walk(org, after)` goes on with
the next page, so nothing is listed twice and nothing is left out. Organizations' calls here are one
per page of 20 accounts plus two per OU (its listing and its tags) plus the root's three.

Accounts in a state AWS documents as not active (`central.domain.account_state`) are left out; an
account in a state ikr does not know is yielded with that state, for its row to say why it was not
worked. The page tokens kept in a cursor are Organizations' own `NextToken`s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from central.aws.errors import aws_call, translate
from central.domain import account_state
from central.domain import tags as t
from central.domain.model import Account, OrgUnit, Tag

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

PAGE = 20  # the largest page ListAccountsForParent and ListOrganizationalUnitsForParent give


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WalkFrame(_Value):
    """One parent still being listed: its path of unit ids (root first, itself last), what is being
    listed and the page token of the next page (None: the first page)."""

    path: tuple[str, ...] = Field(min_length=1)
    phase: Literal["accounts", "units"] = "accounts"
    token: str | None = None


class WalkCursor(_Value):
    """Where a walk stands: the frames still to work (the last one next) and the units their paths name
    (ikr's own tags only: nothing else of a unit is read, and the cursor is kept in a table item)."""

    frames: tuple[WalkFrame, ...] = ()
    units: dict[str, OrgUnit] = Field(default_factory=dict)
    management: tuple[str, ...] = ()  # the management account, named by the roots' ARNs

    @property
    def done(self) -> bool:
        return not self.frames

    def path(self, frame: WalkFrame) -> tuple[OrgUnit, ...]:
        return tuple(self.units[unit] for unit in frame.path)


@dataclass(frozen=True)
class WalkPage:
    accounts: list[Account]  # ACTIVE or in a state ikr does not know; own tags not read
    after: WalkCursor  # the walk's position once this page is handled


def start(org: OrganizationsClient) -> WalkCursor | None:
    """The cursor of a walk from the roots; None when the caller is in no Organization."""
    try:
        roots = org.list_roots()["Roots"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "AWSOrganizationsNotInUseException":
            return None
        raise translate(exc, "organizations:ListRoots", "the Organization") from exc
    units = {
        root["Id"]: unit_of(root["Id"], root.get("Name", "Root"), resource_tags(org, root["Id"])) for root in roots
    }
    frames = tuple(WalkFrame(path=(root["Id"],)) for root in reversed(roots))
    management = tuple(sorted({found for root in roots if (found := _management_account_id(root))}))
    return WalkCursor(frames=frames, units=units, management=management)


def _management_account_id(root: Any) -> str:
    """A root's ARN names the management account (arn:aws:organizations::<management>:root/o-.../r-...):
    known without organizations:DescribeOrganization, a call the rotator's role is not given."""
    arn = str(root.get("Arn", ""))
    return arn.split(":")[4] if arn.count(":") >= 5 else ""


def walk(org: OrganizationsClient, cursor: WalkCursor) -> Iterator[WalkPage]:
    """Every page from `cursor` on, each with the position after it; a list call or tag read that fails
    comes out as an `AwsError` naming the call and the node (the position before it still holds)."""
    while not cursor.done:
        cursor, accounts = _step(org, cursor)
        yield WalkPage(accounts, cursor)


def _step(org: OrganizationsClient, cursor: WalkCursor) -> tuple[WalkCursor, list[Account]]:
    frame = cursor.frames[-1]
    below = cursor.frames[:-1]
    parent = frame.path[-1]
    if frame.phase == "accounts":
        page = _page(org, "ListAccountsForParent", parent, frame.token)
        path = cursor.path(frame)
        accounts = [account_of(listed, path, cursor.management) for listed in page.get("Accounts", [])]
        token = page.get("NextToken")
        rest = frame.model_copy(update={"token": token} if token else {"phase": "units", "token": None})
        return _cursor((*below, rest), cursor), [account for account in accounts if account is not None]
    page = _page(org, "ListOrganizationalUnitsForParent", parent, frame.token)
    units = dict(cursor.units)
    children: list[WalkFrame] = []
    for listed in page.get("OrganizationalUnits", []):
        unit_id = listed["Id"]
        units[unit_id] = unit_of(unit_id, listed.get("Name", unit_id), resource_tags(org, unit_id))
        children.append(WalkFrame(path=(*frame.path, unit_id)))
    token = page.get("NextToken")
    kept = (frame.model_copy(update={"token": token}),) if token else ()
    # Children above their parent's rest, the first child last: worked next, in listing order.
    return _cursor((*below, *kept, *reversed(children)), cursor, units), []


def _cursor(frames: tuple[WalkFrame, ...], before: WalkCursor, units: dict[str, OrgUnit] | None = None) -> WalkCursor:
    known = before.units if units is None else units
    named = {unit for frame in frames for unit in frame.path}
    return WalkCursor(frames=frames, units={unit: known[unit] for unit in named}, management=before.management)


def unit_of(unit_id: str, name: str, tags: tuple[Tag, ...]) -> OrgUnit:
    return OrgUnit(id=unit_id, name=name, tags=tuple(tag for tag in tags if tag.key.upper().startswith(t.PREFIX)))


def account_of(listed: dict[str, Any], path: tuple[OrgUnit, ...], management: tuple[str, ...]) -> Account | None:
    state = account_state.state_of(listed)
    if account_state.known_not_worked(state):
        return None
    account_id = listed["Id"]
    return Account(
        id=account_id, name=listed.get("Name", account_id), path=path, state=state, management=account_id in management
    )


def _page(org: OrganizationsClient, operation: str, parent: str, token: str | None) -> Any:
    params: dict[str, Any] = {"ParentId": parent, "MaxResults": PAGE}
    if token:
        params["NextToken"] = token
    with aws_call(f"organizations:{operation}", f"node {parent}"):
        if operation == "ListAccountsForParent":
            return org.list_accounts_for_parent(**params)
        return org.list_organizational_units_for_parent(**params)


def resource_tags(org: OrganizationsClient, resource_id: str) -> tuple[Tag, ...]:
    """The tags of a root, OU or account (ListTagsForResource, every page)."""
    found: list[Tag] = []
    with aws_call("organizations:ListTagsForResource", f"node {resource_id}"):
        for page in org.get_paginator("list_tags_for_resource").paginate(ResourceId=resource_id):
            found.extend(Tag(key=tag["Key"], value=tag["Value"]) for tag in page["Tags"])
    return tuple(found)
