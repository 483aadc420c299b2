"""The original tool's inventory of one account, one user after another: the benchmark's baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

AWS_LIST_USERS_PAGE = 100  # ListUsers' default page on AWS


def per_user_inventory(iam: IAMClient, page_size: int = AWS_LIST_USERS_PAGE) -> tuple[int, int]:
    """ListUsers, ListUserTags for every user, ListAccessKeys for every user tagged IKR:EMAIL.
    Returns (users, tagged)."""
    users = tagged = 0
    for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": page_size}):
        for user in page["Users"]:
            users += 1
            tags = iam.list_user_tags(UserName=user["UserName"])["Tags"]
            if any(tag["Key"].upper() == "IKR:EMAIL" for tag in tags):
                tagged += 1
                iam.list_access_keys(UserName=user["UserName"])
    return users, tagged
