"""A small IAM policy evaluator for the tests: enough of AWS's documented logic to judge ikr's policies.

Covers: Allow/Deny statements (an explicit Deny wins, nothing allowed means denied), Action and
NotAction, Resource and NotResource with `*` / `?` wildcards, Principal (AWS ARNs, account roots,
"*", Service), and the condition operators ikr's templates use: StringEquals/NotEquals/Like,
ArnEquals/ArnLike, Bool, Null, each with ...IfExists. Values of one key are ORed, keys and operators
ANDed; condition key names match case-insensitively (as AWS does, tag keys included). It knows no
policy variables, no ForAllValues/ForAnyValue and no numeric or date operators: a policy using one
raises NotImplementedError rather than being judged wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    principal: str | None = None  # for resource policies (trust): the caller's ARN
    context: Mapping[str, str | None] = field(default_factory=dict)  # condition keys; None: absent

    def value(self, key: str) -> str | None:
        lowered = {name.lower(): value for name, value in self.context.items()}
        return lowered.get(key.lower())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, text: str, case_sensitive: bool = True) -> bool:
    regex = "^" + "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern) + "$"
    return re.match(regex, text, 0 if case_sensitive else re.IGNORECASE) is not None


def _action_matches(patterns: Any, action: str) -> bool:
    return any(_wildcard(pattern, action, case_sensitive=False) for pattern in _as_list(patterns))


def _resource_matches(patterns: Any, resource: str) -> bool:
    return any(_wildcard(pattern, resource) for pattern in _as_list(patterns))


def _principal_matches(principal: Any, caller: str | None) -> bool:
    if principal == "*":
        return True
    if caller is None or not isinstance(principal, Mapping):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            name = f"arn:aws:iam::{value}:root" if kind == "AWS" and re.fullmatch(r"\d{12}", str(value)) else str(value)
            # An account root as principal stands for every principal of that account.
            same_account = name.endswith(":root") and caller.split(":")[4:5] == name.split(":")[4:5]
            if name in ("*", caller) or (kind == "AWS" and same_account):
                return True
    return False


_STRING = {
    "StringEquals": lambda want, got: want == got,
    "StringNotEquals": lambda want, got: want != got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": _wildcard,
    "StringNotLike": lambda want, got: not _wildcard(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _wildcard,
    "ArnNotEquals": lambda want, got: want != got,
    "ArnNotLike": lambda want, got: not _wildcard(want, got),
    "Bool": lambda want, got: str(want).lower() == got.lower(),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _condition_holds(operator: str, key: str, wanted: Any, request: Request) -> bool:
    if ":" in operator and operator.split(":", maxsplit=1)[0] in ("ForAllValues", "ForAnyValue"):
        raise NotImplementedError(operator)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    got = request.value(key)
    if base == "Null":
        return any((got is None) == (str(want).lower() == "true") for want in _as_list(wanted))
    if base not in _STRING:
        raise NotImplementedError(operator)
    if got is None:
        # A missing key: ...IfExists holds; a negated operator holds (AWS: nothing to differ from); others fail.
        return if_exists or base in _NEGATED
    if "${" in str(wanted):
        raise NotImplementedError("policy variables")
    if base in _NEGATED:
        return all(_STRING[base](str(want), got) for want in _as_list(wanted))
    return any(_STRING[base](str(want), got) for want in _as_list(wanted))


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement and not _action_matches(statement["Action"], request.action):
        return False
    if "NotAction" in statement and _action_matches(statement["NotAction"], request.action):
        return False
    if "Resource" in statement and not _resource_matches(statement["Resource"], request.resource):
        return False
    if "NotResource" in statement and _resource_matches(statement["NotResource"], request.resource):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if "NotPrincipal" in statement:
        raise NotImplementedError("NotPrincipal")
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key, wanted, request):
                return False
    return True


def evaluate(policies: list[Mapping[str, Any]], request: Request) -> str:
    """ "Allow", "ExplicitDeny" or "ImplicitDeny" for the request under all `policies` together."""
    allowed = False
    for policy in policies:
        for statement in _as_list(policy.get("Statement", [])):
            if statement is None or not _statement_applies(statement, request):
                continue
            if statement["Effect"] == "Deny":
                return "ExplicitDeny"
            allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def allows(policies: list[Mapping[str, Any]], request: Request) -> bool:
    return evaluate(policies, request) == "Allow"
