"""Build a small AWS Organization with IAM users in the emulator: shared by tests and the demo.

Works against moto in process or a moto server (through AWS_ENDPOINT_URL), as it only speaks boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

ROLE_NAME = "ikr-member"


@dataclass
class UserSpec:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    keys: int = 1


@dataclass
class AccountSpec:
    name: str
    ou: str | None  # None: directly under the root
    tags: dict[str, str] = field(default_factory=dict)
    users: list[UserSpec] = field(default_factory=list)


@dataclass
class OrgSpec:
    ous: dict[str, dict[str, str]] = field(default_factory=dict)  # OU name -> tags (all under the root)
    root_tags: dict[str, str] = field(default_factory=dict)
    accounts: list[AccountSpec] = field(default_factory=list)
    management_tags: dict[str, str] = field(default_factory=dict)
    management_users: list[UserSpec] = field(default_factory=list)


@dataclass
class World:
    management_id: str
    root_id: str
    ou_ids: dict[str, str]
    account_ids: dict[str, str]  # account name -> id
    central: boto3.Session

    def session(self, account_id: str) -> boto3.Session:
        return session_in(self.central, account_id)

    def iam(self, account_name: str):
        return self.session(self.account_ids[account_name]).client("iam")


def _tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def session_in(central: boto3.Session, account_id: str) -> boto3.Session:
    me = central.client("sts").get_caller_identity()["Account"]
    if account_id == me:
        return central
    creds = central.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE_NAME}", RoleSessionName="world-builder"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=central.region_name,
    )


def add_users(session: boto3.Session, users: list[UserSpec]) -> None:
    iam = session.client("iam")
    for user in users:
        iam.create_user(UserName=user.name, Tags=_tags(user.tags))
        for _ in range(user.keys):
            iam.create_access_key(UserName=user.name)


def build_world(central: boto3.Session, spec: OrgSpec) -> World:
    org = central.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    if spec.root_tags:
        org.tag_resource(ResourceId=root_id, Tags=_tags(spec.root_tags))
    management_id = central.client("sts").get_caller_identity()["Account"]
    if spec.management_tags:
        org.tag_resource(ResourceId=management_id, Tags=_tags(spec.management_tags))
    ou_ids: dict[str, str] = {}
    for name, tags in spec.ous.items():
        unit = org.create_organizational_unit(ParentId=root_id, Name=name)["OrganizationalUnit"]
        ou_ids[name] = unit["Id"]
        if tags:
            org.tag_resource(ResourceId=unit["Id"], Tags=_tags(tags))
    account_ids: dict[str, str] = {}
    for account in spec.accounts:
        status = org.create_account(
            Email=f"{account.name}@example.org", AccountName=account.name, Tags=_tags(account.tags)
        )["CreateAccountStatus"]
        account_id = status["AccountId"]
        account_ids[account.name] = account_id
        if account.ou is not None:
            org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ou_ids[account.ou])
    world = World(management_id=management_id, root_id=root_id, ou_ids=ou_ids, account_ids=account_ids, central=central)
    add_users(central, spec.management_users)
    for account in spec.accounts:
        add_users(world.session(account_ids[account.name]), account.users)
    return world


def caller_arn(pair: dict[str, str]) -> str:
    """Who AWS says signs with this key pair (STS GetCallerIdentity): proof a delivered pair works.
    The call also makes IAM (and moto) record the key's last use."""
    sts = boto3.client(
        "sts",
        aws_access_key_id=pair["AccessKeyId"],
        aws_secret_access_key=pair["SecretAccessKey"],
        aws_session_token="",
        region_name="us-east-1",
    )
    arn: str = sts.get_caller_identity()["Arn"]
    return arn
