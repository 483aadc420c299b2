"""A small IAM policy evaluator for the tests: AWS's documented logic, enough to judge ikr's policies.

No maintained library evaluates a request against IAM policies with their conditions (checked on
PyPI, 2026-12: policy_sentry writes policies, parliament and cloudsplaining lint them, policyuniverse
parses them and was last released in 2023, iam-ape computes an account's effective permissions,
principalmapper's simulator was last released in 2022, and there is no iam-policy-evaluator), so
this one follows the IAM User Guide, and tests/deploy/test_policy_eval.py holds it to the guide's
own examples:

- evaluation: an explicit Deny in any policy wins; else any Allow allows; else the implicit deny.
  Action / NotAction, Resource / NotResource with `*` and `?`, Principal (AWS ARNs, account ids and
  roots, "*", Service);
- conditions ("Condition operators", reference_policies_elements_condition_operators): operators
  ANDed, keys of one operator ANDed, the values of one key ORed (for a negated operator, the request
  value must differ from every one: "Evaluation logic for negated matching condition operators");
  key names case-insensitive. String (case-sensitive but ...IgnoreCase), Numeric, Date, Bool, Binary,
  IpAddress / NotIpAddress, Arn (ArnEquals and ArnLike alike: each of the six colon-delimited parts
  matched on its own, with `*` and `?` within the part, case-sensitive), Null, and `...IfExists` on
  every operator but Null. A key absent from the request: the condition is false, but true for a
  negated operator and for ...IfExists;
- set operators ("Single-valued vs. multivalued context keys"): `ForAllValues:` holds when every
  request value matches (and when the key is absent or empty); `ForAnyValue:` when at least one does
  (false when absent). A list in the request context is a multivalued key; a single-valued operator
  refuses one (the guide: multivalued keys need a set operator).

Policy variables (`${...}`) and NotPrincipal raise NotImplementedError rather than being judged wrongly.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ContextValue = str | Sequence[str] | None


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    principal: str | None = None  # for resource policies (trust): the caller's ARN
    # Condition keys: a string (single-valued), a list of strings (multivalued), None (absent).
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def value(self, key: str) -> ContextValue:
        lowered = {name.lower(): value for name, value in self.context.items()}
        return lowered.get(key.lower())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, text: str, case_sensitive: bool = True) -> bool:
    regex = "^" + "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern) + "$"
    return re.match(regex, text, (0 if case_sensitive else re.IGNORECASE) | re.DOTALL) is not None


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


def _arn_matches(pattern: str, arn: str) -> bool:
    """ArnEquals / ArnLike: the six colon-delimited parts each matched on its own (wildcards stay in
    their part; the last part, the resource, may hold colons itself)."""
    wanted, got = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(got) == 6 and all(_wildcard(w, g) for w, g in zip(wanted, got, strict=True))


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime:
    """A date condition value: ISO 8601 (a date, or a date and time) or epoch seconds."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_network(cidr: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    return lambda want, got: bool(test(parse(got), parse(want)))


# Each operator: (is it negated, does (policy value, request value) match).
_OPERATORS: dict[str, tuple[bool, Callable[[str, str], bool]]] = {
    "StringEquals": (False, lambda want, got: want == got),
    "StringNotEquals": (True, lambda want, got: want == got),
    "StringEqualsIgnoreCase": (False, lambda want, got: want.lower() == got.lower()),
    "StringNotEqualsIgnoreCase": (True, lambda want, got: want.lower() == got.lower()),
    "StringLike": (False, _wildcard),
    "StringNotLike": (True, _wildcard),
    "NumericEquals": (False, _compare(_number, lambda got, want: got == want)),
    "NumericNotEquals": (True, _compare(_number, lambda got, want: got == want)),
    "NumericLessThan": (False, _compare(_number, lambda got, want: got < want)),
    "NumericLessThanEquals": (False, _compare(_number, lambda got, want: got <= want)),
    "NumericGreaterThan": (False, _compare(_number, lambda got, want: got > want)),
    "NumericGreaterThanEquals": (False, _compare(_number, lambda got, want: got >= want)),
    "DateEquals": (False, _compare(_date, lambda got, want: got == want)),
    "DateNotEquals": (True, _compare(_date, lambda got, want: got == want)),
    "DateLessThan": (False, _compare(_date, lambda got, want: got < want)),
    "DateLessThanEquals": (False, _compare(_date, lambda got, want: got <= want)),
    "DateGreaterThan": (False, _compare(_date, lambda got, want: got > want)),
    "DateGreaterThanEquals": (False, _compare(_date, lambda got, want: got >= want)),
    "Bool": (False, lambda want, got: want.lower() == got.lower()),
    "BinaryEquals": (False, lambda want, got: base64.b64decode(want) == base64.b64decode(got)),
    "IpAddress": (False, _in_network),
    "NotIpAddress": (True, _in_network),
    "ArnEquals": (False, _arn_matches),
    "ArnLike": (False, _arn_matches),
    "ArnNotEquals": (True, _arn_matches),
    "ArnNotLike": (True, _arn_matches),
}


def _value_matches(base: str, wanted: list[str], got: str) -> bool:
    """One request value against the policy's values: any of them, or for a negated operator none."""
    negated, test = _OPERATORS[base]
    if negated:
        return not any(test(want, got) for want in wanted)
    return any(test(want, got) for want in wanted)


def _condition_holds(operator: str, key: str, wanted: Any, request: Request) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise NotImplementedError(operator)
    values = [str(want).lower() if isinstance(want, bool) else str(want) for want in _as_list(wanted)]
    if any("${" in value for value in values):
        raise NotImplementedError("policy variables")
    got = request.value(key)
    if name == "Null":  # true: the key must be absent; false: present (the guide: not for set operators)
        if qualifier:
            raise NotImplementedError(operator)
        return any((got is None) == (value.lower() == "true") for value in values)
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    if base not in _OPERATORS:
        raise NotImplementedError(operator)
    if qualifier:
        members = [] if got is None else [got] if isinstance(got, str) else list(got)
        if not members:  # absent or empty: ForAllValues holds, ForAnyValue does not
            return qualifier == "ForAllValues"
        matches = (_value_matches(base, values, member) for member in members)
        return all(matches) if qualifier == "ForAllValues" else any(matches)
    if got is None:
        return if_exists or _OPERATORS[base][0]
    if not isinstance(got, str):
        raise ValueError(f"{key} is multivalued in the request: {operator} needs ForAllValues: or ForAnyValue:")
    return _value_matches(base, values, got)


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
