"""aws-iam-key-rotator v3.6 (the original tool ikr replaces), as its code behaves, for tests that run
ikr beside it on the same emulator world.

Its Lambdas are not run here: they are not part of this project (their code is public at
github.com/skildops/aws-iam-key-rotator, tag v3.6.0, and is not vendored). Each rule below is written
from reading that code, and names the function it comes from:

- `src/creator.py` `fetch_users_with_email`: a user's tags whose key starts with `ikr:` (any case)
  become attributes named by the lower-cased part after the colon; `ikr:instruction_<N>` are joined
  in numeric order; a user is managed when it has the `email` attribute.
- `fetch_user_keys`: a key's age is `(now - CreateDate).days`, whole days.
- `create_user_key`: no key or two keys: skipped; otherwise the key is rotated unless
  `age <= int(rotate_after_days tag or ROTATE_AFTER_DAYS)`, whatever the key's status.
- `mark_key_for_destroy`: the old key's item is `user`, `ak`, `email`, `delete_on` = midnight UTC of
  the rotation day + DELETE_AFTER_DAYS (tag or setting) x 86,400 s, `delete_enc_key` = "Y" when the
  pair was encrypted; `handler`: encrypted unless ENCRYPT_KEY_PAIR is exactly "false".
- `src/destructor.py` `destroy_user_key`: acts on REMOVE records only (DynamoDB TTL at `delete_on`):
  deletes the key, then the Fernet key parameter `/ikr/secret/iam/<user>` when `delete_enc_key` is Y,
  then mails `Old Access Key Pair Deleted`.
- `tag-iam-users.py`: every top-level key of `iam-user-tags.json` is a user name, its object the tags
  (TagUser with them as given); an empty file prints "No IAM users present" and tags nobody.
- The new-key mail (`send_email`): subject `New Access Key Pair`; the text lines `Account: <ACCOUNT_ID>
  (<first IAM account alias or "">)`, `Access Key: ...`, `Secret Access Key: ...`, `Instruction: ...`
  and "Existing key pair <ak> will be deleted after <N> days"; `decryption.py` decrypts a value with
  `Fernet(ENC_KEY).decrypt(CIPHER_TEXT)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DAY = 86_400


def attributes(tags: list[dict[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    instructions: dict[int, str] = {}
    for tag in tags:
        key = tag["Key"]
        if key.lower().startswith("ikr:instruction_"):
            instructions[int(key.split("_")[1])] = tag["Value"]
        elif key.lower().startswith("ikr:"):
            found[key.split(":")[1].lower()] = tag["Value"]
    found["instruction"] = " ".join(instructions[n] for n in sorted(instructions))
    return found


def age_days(created: datetime, now: datetime) -> int:
    return (now - created).days


@dataclass(frozen=True)
class Rotation:
    user: str
    old_key: str
    delete_on: int  # epoch seconds


def midnight_utc(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def creator(iam: Any, now: datetime, env: dict[str, str]) -> dict[str, Rotation]:
    """The users the creator would rotate at `now`, with the deletion time it would record."""
    rotate_default = env.get("ROTATE_AFTER_DAYS", "85")
    delete_default = env.get("DELETE_AFTER_DAYS", "5")
    rotations: dict[str, Rotation] = {}
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            attrs = attributes(iam.list_user_tags(UserName=name)["Tags"])
            if "email" not in attrs:
                continue
            keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            if len(keys) != 1:
                continue
            (key,) = keys
            if age_days(key["CreateDate"], now) <= int(attrs.get("rotate_after_days", rotate_default)):
                continue
            delete_after = int(attrs.get("delete_after_days", delete_default))
            delete_on = round(midnight_utc(now).timestamp()) + delete_after * DAY
            rotations[name] = Rotation(name, key["AccessKeyId"], delete_on)
    return rotations


def encrypts(env: dict[str, str]) -> bool:
    return env.get("ENCRYPT_KEY_PAIR", "true") != "false"


def table_item(user: str, ak: str, email: str, delete_on: int, encrypted: bool) -> dict[str, Any]:
    """An item of the original's table, as `mark_key_for_destroy` writes it."""
    return {
        "user": {"S": user},
        "ak": {"S": ak},
        "email": {"S": email},
        "delete_on": {"N": str(delete_on)},
        "delete_enc_key": {"S": "Y" if encrypted else "N"},
    }


def create_table(dynamodb: Any, name: str) -> None:
    """The original's table as its Terraform makes it: key user/ak, TTL on delete_on, a stream."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "ak", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "ak", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "delete_on"}
    )


def tag_users_file(data: dict[str, dict[str, str]]) -> list[str]:
    """The users `tag-iam-users.py` would tag from a file's content (every top-level key)."""
    return list(data)


# A runbook written for the original's mails: what it takes out of the text of each.
RUNBOOK = {
    "account": re.compile(r"Account: (\d{12}) \(([^)]*)\)"),
    "access_key": re.compile(r"^\s*Access Key: (\S+)", re.MULTILINE),
    "secret": re.compile(r"Secret Access Key: (\S+)"),
    "instruction": re.compile(r"Instruction: (.*)"),
}


def original_mail_text(account_id: str, alias: str, user: str, key: str, secret: str, old_key: str, days: int) -> str:
    """The text part of the original's new-key mail, in its layout (indented lines, blank lines)."""
    return (
        f"Hey {user},\n\n\n        A new access key pair has been generated for you. Please update the same "
        f"wherever necessary.\n\n\n        Account: {account_id} ({alias})\n\n        Access Key: {key}\n\n"
        f"        Secret Access Key: {secret}\n\n        Instruction: Update CI.\n\n\n        Note: Existing key "
        f"pair {old_key} will be deleted after {days} days so please update the key pair wherever required."
        "\n\n\n        Thanks,\n\n        Your Security Team"
    )


def after(moment: datetime, days: int = 0, hours: int = 0, minutes: int = 0) -> datetime:
    return moment + timedelta(days=days, hours=hours, minutes=minutes)
