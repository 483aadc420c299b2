"""A member account's user after a rotation, as the destructor finds it: shared by the destructor tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from central.aws.expiry_item import ExpiryItem, State, epoch
from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import SessionBroker
from central.aws.ssm_secrets import parameter_name
from central.retirement.destroy import DestroyContext
from tests.integration.conftest import TABLE
from tests.integration.fixtures_extra import LATER
from tests.support.world import session_in

NOW = LATER
RETRY = timedelta(minutes=5)


MEMBER = "210987654321"  # AssumeRole into any account id works in moto: no Organization needed here


@dataclass
class Scene:
    """A member account's user dave after a rotation: old and new key, his Fernet key in SSM, and
    the scheduled item of the old key as the stream hands it over (already removed from the table)."""

    table: ExpiryTable
    broker: SessionBroker
    iam: Any
    ssm: Any
    old: str
    new: str
    item: ExpiryItem
    account_id: str = MEMBER

    def context(self, now=NOW, **extra: Any) -> DestroyContext:
        return DestroyContext(broker=self.broker, table=self.table, now=now, retry_after=RETRY, **extra)

    def status(self, key_id: str) -> str:
        metas = self.iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]
        return str(next(meta["Status"] for meta in metas if meta["AccessKeyId"] == key_id))

    def access_keys(self) -> set[str]:
        return {meta["AccessKeyId"] for meta in self.iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]}

    def table_items(self) -> list[ExpiryItem]:
        return self.table.for_account(self.account_id)

    def removed(self, item: ExpiryItem) -> ExpiryItem:
        """Remove the item as TTL or the sweep would, and give it as its REMOVE record carries it."""
        self.table.remove(item)
        return item

    def parameter_exists(self) -> bool:
        names = [p["Name"] for p in self.ssm.describe_parameters()["Parameters"]]
        return parameter_name("dave") in names


@pytest.fixture
def scene(central: boto3.Session) -> Scene:
    return build_scene(central)


def build_scene(central: boto3.Session) -> Scene:
    table = ExpiryTable(central.client("dynamodb"), TABLE)
    table.create()
    member = session_in(central, MEMBER)
    iam, ssm = member.client("iam"), member.client("ssm")
    iam.create_user(UserName="dave", Tags=[{"Key": "IKR:EMAIL", "Value": "dave@example.com"}])
    old = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]
    ssm.put_parameter(Name=parameter_name("dave"), Value="fernet-key-placeholder", Type="SecureString")
    item = ExpiryItem(
        account_id=MEMBER,
        user_name="dave",
        old_key_id=old,
        state=State.SCHEDULED,
        started_at=epoch(NOW - timedelta(days=5)),
        email="dave@example.com",
        new_key_id=new,
        expires_at=epoch(NOW - timedelta(minutes=1)),
    )
    return Scene(table, SessionBroker(central, "ikr-member", purpose="destroy"), iam, ssm, old, new, item)
