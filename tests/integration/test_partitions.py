"""ikr in AWS China and GovCloud: the member role's ARN, and every ARN ikr builds, carry the caller's
partition (`aws-cn`, `aws-us-gov`), never `arn:aws:` (moto in process, whose STS answers in the
region's partition)."""

from __future__ import annotations

import boto3
import pytest

from central.aws.partition import for_region, of_arn
from central.aws.sessions import SessionBroker
from central.clock import fixed_clock
from central.domain.results import Outcome
from central.report.publish import Published
from central.rotation.run import run_rotation
from tests.integration.conftest import default_spec, make_harness
from tests.integration.faults import Faults
from tests.integration.fixtures_extra import (
    LATER,
    shared_botocore_loader,  # noqa: F401 - autouse: shared service models (speed)
)

PARTITIONS = [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("us-east-1", "aws")]


@pytest.mark.parametrize(("region", "partition"), PARTITIONS)
def test_a_run_assumes_the_member_role_in_the_callers_partition(
    region: str, partition: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    central = boto3.Session(region_name=region)
    harness = make_harness(central, default_spec())
    harness.services.clock = fixed_clock(LATER)
    faults = Faults(monkeypatch)

    result = run_rotation(harness.services)

    roles = [call.params["RoleArn"] for call in faults.calls if call.operation == "AssumeRole"]
    assert roles  # every member account was entered
    assert all(role.startswith(f"arn:{partition}:iam::") for role in roles), roles
    rotated = [user.user for account in result.accounts for user in account.users if user.outcome is Outcome.ROTATED]
    assert sorted(rotated) == ["alice", "dave"]


@pytest.mark.parametrize(("region", "partition"), PARTITIONS)
def test_the_partition_comes_from_the_callers_identity(region: str, partition: str):
    broker = SessionBroker(boto3.Session(region_name=region), "ikr-member")
    assert broker.role_arn("210987654321") == f"arn:{partition}:iam::210987654321:role/ikr-member"


def test_the_region_names_the_partition_when_no_identity_is_at_hand():
    assert for_region("cn-northwest-1").name == "aws-cn"
    assert for_region("cn-north-1").dns_suffix == "amazonaws.com.cn"
    assert for_region("us-gov-east-1").name == "aws-us-gov"
    assert for_region("eu-central-2").name == "aws"
    assert for_region("local").name == "aws"  # an emulator's region: the commercial partition
    assert for_region(None).name == "aws"
    assert of_arn("arn:aws-us-gov:sts::123456789012:assumed-role/x/y") == for_region("us-gov-west-1")
    assert of_arn("not an arn") is None


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("us-east-1", "https://s3.console.aws.amazon.com/s3/object/"),
        ("cn-north-1", "https://console.amazonaws.cn/s3/object/"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com/s3/object/"),
    ],
)
def test_the_report_mail_links_the_s3_console_of_the_buckets_partition(region: str, console: str):
    published = Published(bucket="ikr-reports", region=region, keys={"html": "reports/latest.html"})
    assert published.console_url("html") == f"{console}ikr-reports?region={region}&prefix=reports%2Flatest.html"


def test_a_partition_without_a_public_console_gets_no_console_link():
    published = Published(bucket="ikr-reports", region="us-iso-east-1", keys={"html": "reports/latest.html"})
    assert published.console_url("html") is None
