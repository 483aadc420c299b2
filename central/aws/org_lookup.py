"""One account of the Organization looked up directly, with its OU path: no walk of the tree.

`ikr rotate --account A --now-due`, the rotator's `{"ikr": "rotate"}` event and an exposed key each
need one account as a run would see it (its OU path with the OUs' and root's `IKR:` tags, its state,
whether it is the management account). Walking the whole tree for it costs one call per 20 accounts
and two per OU (500+ calls for 10,000 accounts, minutes at Organizations' 5 requests a second); this
costs ListRoots and the root's tags (`org_walk.start`, as a walk begins), DescribeAccount, then per
level up to the root one ListParents, and per OU on the way DescribeOrganizationalUnit (its name) and
ListTagsForResource (its tags): 4 + 3 per OU level, whatever the size of the rest of the tree.

The account comes out exactly as the walk yields it: the walk's own builders make the units and the
account (`org_walk.unit_of`, `org_walk.account_of`), so states known not to be worked are left out the
same way. ListParents per account is what "Organizations of 10,000 accounts" rules out for a run;
here it is one account's chain, a handful of calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from central.aws import clients
from central.aws.errors import AwsError, AwsNotFound, aws_call

# The walk's builders, shared so an account looked up equals the walk's account field for field.
from central.aws.org_walk import WalkCursor, account_of, resource_tags, start, unit_of
from central.domain import account_state
from central.domain.model import Account, OrgUnit

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

    from central.aws.sessions import Session

# DescribeAccount's AccountId pattern: AWS refuses anything else as invalid input, and no account has
# such an id, so it is answered "no such account" without a call.
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
# Organizations nests OUs at most five levels under the root; a longer chain is no Organization's.
MAX_OU_LEVELS = 5


@dataclass(frozen=True)
class Lookups:
    standalone: bool  # the caller is in no Organization: nothing was looked up
    accounts: dict[str, Account | None]  # by id; None: not an account of the Organization worked by ikr


def look_up_from(central: Session, account_ids: Sequence[str]) -> Lookups:
    """The lookups as the central account's session sees them."""
    return look_up_many(clients.organizations(central), account_ids)


def look_up_many(org: OrganizationsClient, account_ids: Sequence[str]) -> Lookups:
    """Each of `account_ids` as a walk of the Organization would yield it (own tags not read), the roots
    read once for all of them; None for an account the Organization does not have or one in a state
    known not to be worked (an unknown state is kept, for its row to say so). Other failures come out as
    `AwsError`s naming the call and the node."""
    roots = start(org)  # ListRoots (AWSOrganizationsNotInUseException: None) and the roots' tags
    if roots is None:
        return Lookups(standalone=True, accounts={})
    return Lookups(
        standalone=False, accounts={account_id: _found(org, account_id, roots) for account_id in account_ids}
    )


def _found(org: OrganizationsClient, account_id: str, roots: WalkCursor) -> Account | None:
    if not _ACCOUNT_ID.fullmatch(account_id):
        return None
    try:
        with aws_call("organizations:DescribeAccount", f"account {account_id}"):
            described: dict[str, Any] = dict(org.describe_account(AccountId=account_id)["Account"])
    except AwsNotFound:  # AccountNotFoundException: not an account of this Organization
        return None
    if account_state.known_not_worked(account_state.state_of(described)):
        return None  # left out before its path costs a call, as the walk leaves it out
    path = _ous_above(org, account_id, roots.units)
    return account_of(described, path, roots.management)


def _ous_above(org: OrganizationsClient, account_id: str, roots: dict[str, OrgUnit]) -> tuple[OrgUnit, ...]:
    """The account's path, root first, its own parent last: ListParents from the account up to a root,
    then each OU's name and tags."""
    chain: list[str] = []  # OU ids, nearest first
    child = account_id
    while True:
        parent_id, kind = _parent(org, child)
        if kind == "ROOT":
            break
        if len(chain) == MAX_OU_LEVELS:
            reason = f"more than {MAX_OU_LEVELS} OU levels above the account, which Organizations does not allow"
            raise AwsError("organizations:ListParents", f"account {account_id}", reason)
        chain.append(parent_id)
        child = parent_id
    if parent_id not in roots:
        reason = f"its root {parent_id} is not one ListRoots names"
        raise AwsError("organizations:ListParents", f"account {account_id}", reason)
    return (roots[parent_id], *(_ou(org, unit_id) for unit_id in reversed(chain)))


def _parent(org: OrganizationsClient, child: str) -> tuple[str, str]:
    """The one parent of an account or OU (ListParents: every child has exactly one) and its type."""
    with aws_call("organizations:ListParents", f"node {child}"):
        parents = org.list_parents(ChildId=child)["Parents"]
    if len(parents) != 1:
        reason = f"{len(parents)} parents, where Organizations gives every account and OU one"
        raise AwsError("organizations:ListParents", f"node {child}", reason)
    return parents[0]["Id"], parents[0]["Type"]


def _ou(org: OrganizationsClient, unit_id: str) -> OrgUnit:
    """One OU as the walk builds it: its name (DescribeOrganizationalUnit) and its `IKR:` tags."""
    with aws_call("organizations:DescribeOrganizationalUnit", f"node {unit_id}"):
        described = org.describe_organizational_unit(OrganizationalUnitId=unit_id)["OrganizationalUnit"]
    return unit_of(unit_id, described.get("Name", unit_id), resource_tags(org, unit_id))
