"""IAM inventory of one account: the users ikr manages, with their tags and access keys.

Bulk first: GetAccountAuthorizationDetails returns every user with its tags, 1,000 a page, so no
per-user ListUserTags; `managed_users` then calls ListAccessKeys for every user tagged IKR:EMAIL
(the full inventory). The rotation's cheaper scan, which lists keys only where the credential report
cannot decide, is `central.rotation.scan`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from central.domain.model import AccessKey, IamUser, KeyStatus, Tag
from central.domain.tags import EMAIL, has_email_tag

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


class ListedUser(NamedTuple):
    user: IamUser  # with its tags; keys not filled
    created: datetime | None  # when this user (this one, not an earlier one of the same name) was made


def listed_users(iam: IAMClient, managed_only: bool = False) -> list[ListedUser]:
    """Every IAM user of the account (or only those tagged IKR:EMAIL) with its tags and creation
    time, 1,000 a page."""
    users: list[ListedUser] = []
    paginator = iam.get_paginator("get_account_authorization_details")
    for page in paginator.paginate(Filter=["User"], PaginationConfig={"PageSize": 1000}):
        for detail in page["UserDetailList"]:
            if managed_only and not any(tag["Key"].upper() == EMAIL for tag in detail.get("Tags", [])):
                continue  # most users of a large account: no records made for them
            tags = tuple(Tag(key=tag["Key"], value=tag["Value"]) for tag in detail.get("Tags", []))
            user = IamUser(name=detail["UserName"], arn=detail["Arn"], tags=tags)
            users.append(ListedUser(user, detail.get("CreateDate")))
    return users


def all_users(iam: IAMClient) -> list[IamUser]:
    """Every IAM user of the account with its tags (keys not filled), 1,000 a page."""
    return [listed.user for listed in listed_users(iam)]


def managed_users(iam: IAMClient) -> list[IamUser]:
    """The users tagged IKR:EMAIL, each with its access keys (oldest first)."""
    users = [user for user in all_users(iam) if has_email_tag(user.tags)]
    return [user.model_copy(update={"keys": access_keys(iam, user.name)}) for user in users]


def access_keys(iam: IAMClient, user_name: str) -> tuple[AccessKey, ...]:
    keys: list[AccessKey] = []
    for page in iam.get_paginator("list_access_keys").paginate(UserName=user_name):
        keys.extend(
            AccessKey(key_id=meta["AccessKeyId"], status=KeyStatus(meta["Status"]), created=meta["CreateDate"])
            for meta in page["AccessKeyMetadata"]
        )
    return tuple(sorted(keys, key=lambda key: key.created))
