"""IAM inventory of one account: the users ikr manages, with their tags and access keys.

Bulk first: GetAccountAuthorizationDetails returns every user with its tags, 1,000 a page, so no
per-user ListUserTags; ListAccessKeys is then called only for the users tagged IKR:EMAIL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from central.model import AccessKey, IamUser, KeyStatus, Tag
from central.tags import has_email_tag

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


def all_users(iam: IAMClient) -> list[IamUser]:
    """Every IAM user of the account with its tags (keys not filled), 1,000 a page."""
    users: list[IamUser] = []
    paginator = iam.get_paginator("get_account_authorization_details")
    for page in paginator.paginate(Filter=["User"], PaginationConfig={"PageSize": 1000}):
        for detail in page["UserDetailList"]:
            tags = tuple(Tag(key=tag["Key"], value=tag["Value"]) for tag in detail.get("Tags", []))
            users.append(IamUser(name=detail["UserName"], arn=detail["Arn"], tags=tags))
    return users


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
