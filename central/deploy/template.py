"""Read the CloudFormation templates of this repository (YAML with the short intrinsic tags).

PyYAML is imported only here and only when a deploy command runs: the Lambda code never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from central.domain.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
CENTRAL_TEMPLATE = REPO_ROOT / "stacksets" / "central.yaml"
STACKSET_TEMPLATE = REPO_ROOT / "stacksets" / "member-stackset.yaml"
MEMBER_TEMPLATE = REPO_ROOT / "member-role" / "template.yaml"
EXPOSURE_STACKSET_TEMPLATE = REPO_ROOT / "stacksets" / "exposure-stackset.yaml"
EXPOSURE_FORWARD_TEMPLATE = REPO_ROOT / "member-role" / "exposure-forward.yaml"


def load(path: Path) -> dict[str, Any]:
    """The template as plain data; `!Ref X` becomes {"Ref": "X"}, `!Sub s` {"Fn::Sub": s}, and so on."""
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - a deploy-time dependency only

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", intrinsic)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    except OSError as exc:
        raise UsageError(f"cannot read template {path}: {exc.strerror}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise UsageError(f"{path} is not a CloudFormation template (no Resources)")
    return data


def parameters(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(template.get("Parameters") or {})


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body.get("Type") == kind}


def lambda_platform(template: dict[str, Any]) -> tuple[str, str]:
    """(runtime, architecture) shared by every function: one artifact is built for exactly these."""
    found = {
        (props["Runtime"], (props.get("Architectures") or ["x86_64"])[0])
        for props in (body["Properties"] for body in resources_of_type(template, "AWS::Lambda::Function").values())
    }
    if len(found) != 1:
        raise UsageError(f"the functions of the central template disagree on runtime/architecture: {sorted(found)}")
    return found.pop()


def stackset_properties(template: dict[str, Any]) -> dict[str, Any]:
    """The AWS::CloudFormation::StackSet resource's properties (its one such resource)."""
    found = list(resources_of_type(template, "AWS::CloudFormation::StackSet").values())
    if len(found) != 1:
        raise UsageError("the StackSet template must hold exactly one AWS::CloudFormation::StackSet")
    return dict(found[0]["Properties"])
