"""`ikr restore` through the CLI against the moto server (issue 18.4), with the lifecycle events a
consumer's EventBridge rule receives on its SQS queue (issue 18.5)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DAY_100, DAY_110, E2E
from tests.integration.event_consumer import consumer, received

pytestmark = pytest.mark.e2e
DAYS = {"DEACTIVATE_BEFORE_DELETE_DAYS": "2"}


def statuses(e2e: E2E, account: str, user: str) -> dict[str, str]:
    listed = e2e.client(account, "iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in listed}


def test_restore_brings_the_inactive_old_key_back_once_and_refuses_what_it_cannot(e2e: E2E) -> None:
    url = consumer(e2e.world.central, {"source": ["ikr"]})
    prod = e2e.account("prod")
    e2e.create_table()
    assert e2e.ikr("rotate", "--now", DAY_100, **DAYS).code == 1  # carol's bad tag
    alice_old, alice_new = e2e.keys("prod", "alice")
    checkpoint = str(e2e.cwd / "checkpoint.json")
    assert e2e.ikr("rotate", "--now", DAY_110, **DAYS).code == 1  # sweeps the items due
    assert e2e.ikr("stream-pump", "--now", DAY_110, "--checkpoint", checkpoint, **DAYS).code == 0
    assert statuses(e2e, "prod", "alice") == {alice_old: "Inactive", alice_new: "Active"}
    lifecycle = [(event["detail-type"], event["detail"].get("user")) for event in received(e2e.world.central, url)]
    for user in ("alice", "dave"):
        mine = [kind for kind, who in lifecycle if who == user]
        assert mine == ["IKR Rotation Started", "IKR New Key Delivered", "IKR Old Key Deactivated"], lifecycle

    run = e2e.ikr("restore", "--account", prod, "--user", "alice", "--days", "5", "--reason", "deploy broke", **DAYS)

    assert run.code == 0, run.stdout + run.stderr
    assert f"restored old key {alice_old} of alice in account {prod}: re-activated" in run.lines[-1]
    assert statuses(e2e, "prod", "alice") == {alice_old: "Active", alice_new: "Active"}
    (item,) = [item for item in e2e.items() if item["user_name"] == "alice"]
    assert item["restored"]["reason"] == "deploy broke"
    assert item["restored"]["days"] == 5
    assert item["restored"]["by"].startswith("cli:")
    assert "deactivated_at" not in item

    again = e2e.ikr("restore", "--account", prod, "--user", "alice", "--days", "5", **DAYS)
    assert again.code == 0, again.stderr
    assert "already postponed to" in again.lines[-1]
    (same,) = [item for item in e2e.items() if item["user_name"] == "alice"]
    assert same["expires_at"] == item["expires_at"]  # not postponed twice
    (restored,) = received(e2e.world.central, url)  # one event for the two calls
    assert restored["detail-type"] == "IKR Old Key Restored"
    assert restored["detail"]["reason"] == "deploy broke"
    assert restored["detail"]["old_key_id"] == alice_old

    report = e2e.ikr("report", "--format", "csv", **DAYS)
    header, *records = report.stdout.splitlines()
    assert header.endswith(",restored"), report.stderr
    (alice,) = [record for record in records if ",alice," in record]
    assert f"{alice_old} restored" in alice
    assert "by cli:" in alice
    assert "(deploy broke)" in alice

    refusals = {
        "unknown user": (["--user", "nobody"], "has no IAM user nobody"),
        "nothing pending": (["--user", "bob"], "no old key is waiting for deletion"),
    }
    for name, (args, message) in refusals.items():
        refused = e2e.ikr("restore", "--account", prod, *args, **DAYS)
        assert refused.code == 2, name
        assert message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    bad_days = e2e.ikr("restore", "--account", prod, "--user", "alice", "--days", "0")
    assert bad_days.code == 2
    assert "'0' is not a whole number of days" in bad_days.stderr
