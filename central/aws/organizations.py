"""Discovery: the Organization's accounts that are ACTIVE (or in a state ikr does not know, for their
row to say so) with their OU path and every scope's tags.

The tree is walked from the root (`central.aws.org_walk`: OUs and accounts per parent, tags per OU),
never a ListParents per account, which throttles past a few hundred accounts. `discover` reads every
account's own tags too (a few at a time), for the report and `ikr explain`, which judge every account;
a run reads them where the account is worked instead (`account_tags_from`), so the rotator's calls do
not grow one per account. A caller in no Organization gets its own account alone: the original
tool's mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from central.aws import clients
from central.aws.org_walk import WalkCursor, WalkPage, resource_tags, start, walk
from central.concurrency import ordered_map
from central.domain.model import Account, Tag

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
    """Every account with its own tags, sorted by id. Failures come out as `AwsError`s
    (central.aws.errors) naming the call and the node."""
    cursor = start(org)
    if cursor is None:
        return Discovery([standalone_account(caller_account_id)], standalone=True)
    accounts: list[Account] = []
    for page in walk(org, cursor):
        ids = [account.id for account in page.accounts]
        tags = ordered_map(ids, lambda i: resource_tags(org, i), TAG_READERS, name="ikr-tags")
        accounts.extend(a.model_copy(update={"tags": own}) for a, own in zip(page.accounts, tags, strict=True))
    return Discovery(sorted(accounts, key=lambda account: account.id), standalone=False)


def standalone_account(caller_account_id: str) -> Account:
    return Account(id=caller_account_id, name=caller_account_id)


def start_walk(central: Session) -> WalkCursor | None:
    """A walk of the Organization from its roots (their tags read); None when the caller is in none."""
    return start(clients.organizations(central))


def walk_from(central: Session, cursor: WalkCursor) -> Iterator[WalkPage]:
    """The pages of accounts from `cursor` on (their own tags not read), each with the cursor after it."""
    return walk(clients.organizations(central), cursor)


def account_tags_from(central: Session, account_id: str) -> tuple[Tag, ...]:
    """One account's own tags (one ListTagsForResource, more only past 100 tags)."""
    return resource_tags(clients.organizations(central), account_id)
