"""`ikr deploy`'s last step: the StackSet that forwards AWS Health's exposed-key events from every
member account to the central account's default bus (`stacksets/exposure-stackset.yaml` deploying
`member-role/exposure-forward.yaml`), where the central stack's `ExposureRule` hands them to the rotator.

IAM's Health events are global: AWS sends them to us-east-1, and to us-west-2 as its backup (AWS
GovCloud: us-gov-west-1), whatever region ikr runs in. The StackSet's instances go there; in a
partition whose Health region ikr does not know, to the region ikr is deployed in, said so.
"""

from __future__ import annotations

from collections.abc import Sequence

from central.aws.deploy_target import Caller
from central.deploy import template
from central.deploy.stackset import StackSetDeployer

# Where AWS Health delivers global events such as AWS_RISK_CREDENTIALS_EXPOSED, per partition.
HEALTH_REGIONS: dict[str, tuple[str, ...]] = {"aws": ("us-east-1", "us-west-2"), "aws-us-gov": ("us-gov-west-1",)}


def health_regions(partition: str, region: str) -> list[str]:
    return list(HEALTH_REGIONS.get(partition, (region,)))


def central_bus(outputs: dict[str, str], caller: Caller, region: str) -> str:
    """The central stack's output ExposureEventBusArn: its account's default bus in its region (the
    value itself where an emulator leaves the output out)."""
    fallback = f"arn:{caller.partition}:events:{region}:{caller.account_id}:event-bus/default"
    return outputs.get("ExposureEventBusArn") or fallback


def forward_exposures(
    deployer: StackSetDeployer,
    outputs: dict[str, str],
    ous: Sequence[str],
    caller: Caller,
    region: str,
    dry_run: bool,
) -> None:
    """Create or update the forwarding StackSet over the same OUs as the member role's."""
    stackset = template.load(template.EXPOSURE_STACKSET_TEMPLATE)
    name = str(template.parameters(stackset)["StackSetName"]["Default"])
    regions = health_regions(caller.partition, region)
    if caller.partition not in HEALTH_REGIONS:
        print(
            f"stackset {name}: AWS Health's region in partition {caller.partition} is not known to ikr; using {region}"
        )
    deployer.deploy(
        name,
        template.EXPOSURE_FORWARD_TEMPLATE.read_text(encoding="utf-8"),
        {"CentralEventBusArn": central_bus(outputs, caller, region)},
        template.stackset_properties(stackset),
        ous,
        regions,
        dry_run=dry_run,
        holds="exposed-key forwarding",
    )
