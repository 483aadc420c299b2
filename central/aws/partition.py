"""The AWS partition (`aws`, `aws-cn`, `aws-us-gov`, ...) an ARN or a host name must carry.

An ARN built as `arn:aws:...` names nothing in China or GovCloud: AssumeRole there is refused. The
partition comes from the caller's own identity (STS GetCallerIdentity's Arn, which ikr reads anyway
for the central account's id) or, with no identity at hand, from the region, by botocore's own
partition data (`partitions.json`, which the Lambda artifact keeps). A region botocore does not know
(an emulator's `local`, a region newer than the installed botocore) is taken for the commercial one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from central.aws.session_factory import shared_loader

COMMERCIAL = "aws"


@dataclass(frozen=True)
class Partition:
    name: str  # "aws", "aws-cn", "aws-us-gov", ...
    dns_suffix: str  # "amazonaws.com", "amazonaws.com.cn", ...

    def arn(self, service: str, region: str, account: str, resource: str) -> str:
        return f"arn:{self.name}:{service}:{region}:{account}:{resource}"

    @property
    def s3_console(self) -> str | None:
        """The S3 console's address in this partition; None where AWS publishes none (isolated ones)."""
        return _S3_CONSOLES.get(self.name)


# AWS General Reference ("AWS Management Console endpoints"), the China and GovCloud user guides.
_S3_CONSOLES = {
    "aws": "https://s3.console.aws.amazon.com/s3",
    "aws-cn": "https://console.amazonaws.cn/s3",
    "aws-us-gov": "https://console.amazonaws-us-gov.com/s3",
}


@cache
def _partitions() -> tuple[tuple[Partition, frozenset[str], re.Pattern[str]], ...]:
    data = shared_loader().load_data("partitions")
    return tuple(
        (
            Partition(entry["id"], entry["outputs"]["dnsSuffix"]),
            frozenset(entry.get("regions", {})),
            re.compile(entry["regionRegex"]),
        )
        for entry in data["partitions"]
    )


def by_name(name: str) -> Partition:
    """The partition called `name`; an unknown one keeps its name with the commercial DNS suffix."""
    for partition, _regions, _pattern in _partitions():
        if partition.name == name:
            return partition
    return Partition(name, "amazonaws.com")


def for_region(region: str | None) -> Partition:
    """The partition of a region: listed by name first, then by the partitions' region patterns."""
    if region:
        for partition, regions, _pattern in _partitions():
            if region in regions:
                return partition
        for partition, _regions, pattern in _partitions():
            if pattern.match(region):
                return partition
    return by_name(COMMERCIAL)


def of_arn(arn: str) -> Partition | None:
    """The partition an ARN names (`arn:<partition>:...`), or None for anything else."""
    parts = arn.split(":", 2)
    if len(parts) < 3 or parts[0] != "arn" or not parts[1]:
        return None
    return by_name(parts[1])
