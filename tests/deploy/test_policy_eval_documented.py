"""The test evaluator (policy_eval.py) against the IAM User Guide's own examples and rules.

Pages (docs.aws.amazon.com/IAM/latest/UserGuide/...):
- OPERATORS: reference_policies_elements_condition_operators.html ("IAM JSON policy elements:
  Condition operators"): each operator family's example, the ...IfExists and Null examples, and the
  rule for a key absent from the request;
- MULTIVALUED: reference_policies_condition-single-vs-multi-valued-context-keys.html (ForAllValues,
  ForAnyValue, absent keys);
- MULTIVALUED_EXAMPLES: reference_policies_condition_examples-multi-valued-context-keys.html (the
  ForAllValues deny example with its table of requests and results).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.policy_eval import ContextValue, Request, evaluate

ACCOUNT = "123456789012"


def statement(effect: str, action: Any, condition: dict[str, Any], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": {"Effect": effect, "Action": action, "Resource": resource, "Condition": condition, **extra},
    }


def judged(policy: dict[str, Any], action: str, resource: str = "*", **context: ContextValue) -> str:
    keys = {key.replace("__", ":").replace("_", "-"): value for key, value in context.items()}
    return evaluate([policy], Request(action, resource, context=keys))


# -- OPERATORS, ARN condition operators -----------------------------------------------------------------
# The page's example: an SQS queue that takes messages only from one SNS topic.
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:QUEUE-ID"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:TOPIC-ID"
FROM_TOPIC = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}},
    },
}


def sent_from(source: str | None, policy: dict[str, Any] = FROM_TOPIC) -> str:
    context = {} if source is None else {"aws:SourceArn": source}
    return evaluate([policy], Request("sqs:SendMessage", QUEUE, principal="sns.amazonaws.com", context=context))


def test_arn_equals_the_page_s_queue_takes_messages_from_its_topic_only() -> None:
    assert sent_from(TOPIC) == "Allow"
    assert sent_from(f"arn:aws:sns:us-east-1:{ACCOUNT}:OTHER-TOPIC") == "ImplicitDeny"
    assert sent_from("arn:aws:sns:us-east-1:999999999999:TOPIC-ID") == "ImplicitDeny"
    assert sent_from(None) == "ImplicitDeny"  # the key absent: a non-negated condition is false


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike"])
def test_arn_operators_match_each_of_the_six_parts_on_its_own_with_wildcards(operator: str) -> None:
    """OPERATORS: ArnEquals and ArnLike are the same match: "Each of the six colon-delimited components
    of the ARN is checked separately and each can include multi-character match wildcards (*) or
    single-character match wildcards (?)"; case-sensitive."""

    def with_pattern(pattern: str) -> dict[str, Any]:
        policy: dict[str, Any] = {"Statement": dict(FROM_TOPIC["Statement"])}
        policy["Statement"]["Condition"] = {operator: {"aws:SourceArn": pattern}}
        return policy

    any_region = with_pattern(f"arn:aws:sns:*:{ACCOUNT}:*")
    assert sent_from(TOPIC, any_region) == "Allow"
    assert sent_from(f"arn:aws:sns:eu-west-1:{ACCOUNT}:T", any_region) == "Allow"
    assert sent_from("arn:aws:sns:eu-west-1:999999999999:T", any_region) == "ImplicitDeny"
    assert sent_from(f"arn:aws:sqs:eu-west-1:{ACCOUNT}:T", any_region) == "ImplicitDeny"
    assert sent_from(TOPIC, with_pattern(f"arn:aws:sns:us-east-?:{ACCOUNT}:TOPIC-ID")) == "Allow"
    assert sent_from(TOPIC, with_pattern(f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-id")) == "ImplicitDeny"
    # A wildcard stays within its part: five parts never match an ARN's six.
    assert sent_from(TOPIC, with_pattern("arn:aws:sns:*:TOPIC-ID")) == "ImplicitDeny"
    # The resource part keeps its own colons (a log stream's ARN).
    stream = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:ikr:log-stream:x"
    assert sent_from(stream, with_pattern(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:ikr:*")) == "Allow"


@pytest.mark.parametrize("operator", ["ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike"])
def test_a_negated_operator_holds_when_the_key_is_absent(operator: str) -> None:
    """OPERATORS, Important: "If the policy condition requires that the key is not matched, such as
    StringNotLike or ArnNotLike, and the right key is not present, the condition is true"."""
    deny = statement("Deny", "sqs:SendMessage", {operator: {"aws:SourceArn": TOPIC}})
    assert judged(deny, "sqs:SendMessage") == "ExplicitDeny"
    assert judged(deny, "sqs:SendMessage", aws__SourceArn=TOPIC) == "ImplicitDeny"
    assert judged(deny, "sqs:SendMessage", aws__SourceArn=TOPIC.replace("TOPIC", "OTHER")) == "ExplicitDeny"


def test_a_negated_operator_with_several_values_holds_only_when_none_matches() -> None:
    deny = statement("Deny", "s3:GetObject", {"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", ACCOUNT]}})
    assert judged(deny, "s3:GetObject", aws__PrincipalAccount=ACCOUNT) == "ImplicitDeny"
    assert judged(deny, "s3:GetObject", aws__PrincipalAccount="111111111111") == "ImplicitDeny"
    assert judged(deny, "s3:GetObject", aws__PrincipalAccount="222222222222") == "ExplicitDeny"


# -- OPERATORS, ...IfExists and Null ---------------------------------------------------------------------
# The page's example: EC2 actions, and where a request names an instance type it must be t1, t2 or m3.
IF_EXISTS = statement("Allow", "ec2:*", {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}})


def test_if_exists_the_page_s_instance_type_example() -> None:
    assert judged(IF_EXISTS, "ec2:DescribeInstances") == "Allow"  # no instance type in the request: true
    assert judged(IF_EXISTS, "ec2:RunInstances", ec2__InstanceType="t2.micro") == "Allow"
    assert judged(IF_EXISTS, "ec2:RunInstances", ec2__InstanceType="m3.large") == "Allow"
    assert judged(IF_EXISTS, "ec2:RunInstances", ec2__InstanceType="c5.large") == "ImplicitDeny"
    without = statement("Allow", "ec2:*", {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}})
    assert judged(without, "ec2:DescribeInstances") == "ImplicitDeny"  # the same without IfExists: false


@pytest.mark.parametrize(
    ("operator", "value", "present", "absent"),
    [
        ("BoolIfExists", "true", {"aws:MultiFactorAuthPresent": "false"}, "Allow"),
        ("ArnLikeIfExists", TOPIC, {"aws:SourceArn": QUEUE}, "Allow"),
        ("NumericLessThanIfExists", "3600", {"aws:MultiFactorAuthAge": "7200"}, "Allow"),
    ],
)
def test_if_exists_works_on_every_operator_family(
    operator: str, value: str, present: dict[str, ContextValue], absent: str
) -> None:
    key = next(iter(present))
    policy = statement("Allow", "s3:GetObject", {operator: {key: value}})
    assert evaluate([policy], Request("s3:GetObject")) == absent
    assert evaluate([policy], Request("s3:GetObject", context=present)) == "ImplicitDeny"


def test_null_the_page_s_temporary_credentials_example() -> None:
    """OPERATORS, "Condition operator to check existence of condition keys": Null true holds when the
    key is absent (aws:TokenIssueTime is present only with temporary credentials)."""
    long_term_only = statement("Allow", "s3:*", {"Null": {"aws:TokenIssueTime": "true"}})
    assert judged(long_term_only, "s3:GetObject") == "Allow"
    assert judged(long_term_only, "s3:GetObject", aws__TokenIssueTime="2026-12-01T10:00:00Z") == "ImplicitDeny"
    temporary_only = statement("Allow", "s3:*", {"Null": {"aws:TokenIssueTime": False}})
    assert judged(temporary_only, "s3:GetObject") == "ImplicitDeny"
    assert judged(temporary_only, "s3:GetObject", aws__TokenIssueTime="2026-12-01T10:00:00Z") == "Allow"


# -- OPERATORS, the other families' examples ---------------------------------------------------------------
def test_numeric_the_page_s_max_keys_example() -> None:
    policy = statement("Allow", "s3:ListBucket", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, "arn:aws:s3:::b")
    assert judged(policy, "s3:ListBucket", "arn:aws:s3:::b", s3__max_keys="10") == "Allow"
    assert judged(policy, "s3:ListBucket", "arn:aws:s3:::b", s3__max_keys="11") == "ImplicitDeny"
    assert judged(policy, "s3:ListBucket", "arn:aws:s3:::b") == "ImplicitDeny"


def test_date_the_page_s_token_issue_time_example() -> None:
    policy = statement("Allow", "iam:*", {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}})
    assert judged(policy, "iam:GetUser", aws__TokenIssueTime="2026-12-01T10:00:00Z") == "Allow"
    assert judged(policy, "iam:GetUser", aws__TokenIssueTime="2019-12-31T23:59:59Z") == "ImplicitDeny"
    assert judged(policy, "iam:GetUser", aws__TokenIssueTime="1893456000") == "Allow"  # epoch seconds (2030)


def test_ip_address_the_page_s_source_ip_example() -> None:
    policy = statement("Allow", "iam:*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
    assert judged(policy, "iam:GetUser", aws__SourceIp="203.0.113.7") == "Allow"
    assert judged(policy, "iam:GetUser", aws__SourceIp="198.51.100.7") == "ImplicitDeny"
    outside = statement("Deny", "iam:*", {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}})
    assert judged(outside, "iam:GetUser", aws__SourceIp="2001:db8::1") == "ImplicitDeny"
    assert judged(outside, "iam:GetUser", aws__SourceIp="198.51.100.7") == "ExplicitDeny"


def test_bool_and_binary_the_page_s_examples() -> None:
    secure = statement("Allow", "s3:GetObject", {"Bool": {"aws:SecureTransport": "true"}})
    assert judged(secure, "s3:GetObject", aws__SecureTransport="true") == "Allow"
    assert judged(secure, "s3:GetObject", aws__SecureTransport="false") == "ImplicitDeny"
    binary = statement("Allow", "s3:GetObject", {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}})
    assert judged(binary, "s3:GetObject", key="QmluYXJ5VmFsdWVJbkJhc2U2NA==") == "Allow"
    assert judged(binary, "s3:GetObject", key="b3RoZXI=") == "ImplicitDeny"


# -- MULTIVALUED_EXAMPLES: "Deny a single policy condition value for a multivalued context key" ---------------
DENY_RESTRICTED_TAGS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyRestrictedTags",
            "Effect": "Deny",
            "Action": ["iam:Tag*", "iam:UnTag*"],
            "Resource": ["*"],
            "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        }
    ],
}


@pytest.mark.parametrize(
    ("tag_keys", "result"),
    [  # the page's table: "Match" denies; "No match" is left to other statements (none here)
        (["key1:legal"], "ImplicitDeny"),
        (["key1:hr", "key1:personnel"], "ImplicitDeny"),
        (["key2:audit"], "ExplicitDeny"),
        (None, "ExplicitDeny"),  # no aws:TagKeys in the request: ForAllValues holds
    ],
)
def test_for_all_values_the_page_s_deny_restricted_tags_table(tag_keys: list[str] | None, result: str) -> None:
    assert evaluate([DENY_RESTRICTED_TAGS], Request("iam:TagUser", context={"aws:TagKeys": tag_keys})) == result


# -- MULTIVALUED: the set operators' definitions ---------------------------------------------------------------
ONLY_THESE_TAGS = statement("Allow", "ec2:CreateTags", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}})
ANY_OF_THESE_TAGS = statement("Allow", "ec2:CreateTags", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}})


@pytest.mark.parametrize(
    ("tag_keys", "for_all", "for_any"),
    [
        (["env"], "Allow", "Allow"),
        (["env", "team"], "Allow", "Allow"),
        (["env", "project"], "ImplicitDeny", "Allow"),  # ForAllValues: every member must match one value
        (["project"], "ImplicitDeny", "ImplicitDeny"),
        ([], "Allow", "ImplicitDeny"),  # "returns true if there are no keys"; ForAnyValue: false
        (None, "Allow", "ImplicitDeny"),
    ],
)
def test_set_operators_as_defined(tag_keys: list[str] | None, for_all: str, for_any: str) -> None:
    request = Request("ec2:CreateTags", context={"aws:TagKeys": tag_keys})
    assert evaluate([ONLY_THESE_TAGS], request) == for_all
    assert evaluate([ANY_OF_THESE_TAGS], request) == for_any


def test_for_all_values_with_null_false_refuses_a_request_without_the_key() -> None:
    """MULTIVALUED_EXAMPLES: a Null condition with false keeps an absent key from evaluating to true."""
    guarded = statement(
        "Allow",
        "ec2:CreateTags",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}, "Null": {"aws:TagKeys": "false"}},
    )
    assert judged(guarded, "ec2:CreateTags") == "ImplicitDeny"
    assert evaluate([guarded], Request("ec2:CreateTags", context={"aws:TagKeys": ["env"]})) == "Allow"


def test_a_multivalued_key_without_a_set_operator_is_refused_not_guessed() -> None:
    single = statement("Allow", "ec2:CreateTags", {"StringEquals": {"aws:TagKeys": "env"}})
    with pytest.raises(ValueError, match="needs ForAllValues: or ForAnyValue:"):
        evaluate([single], Request("ec2:CreateTags", context={"aws:TagKeys": ["env"]}))


# -- evaluation logic: NotResource with an explicit deny ---------------------------------------------------------
def test_not_resource_and_explicit_deny_over_allow() -> None:
    policies = [
        {"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::HRBucket/Payroll*"}},
        {"Statement": {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}},
    ]
    assert evaluate(policies, Request("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll-2026")) == "ImplicitDeny"
    assert evaluate(policies, Request("s3:GetObject", "arn:aws:s3:::HRBucket/Handbook")) == "Allow"
    assert evaluate(policies, Request("s3:DeleteObject", "arn:aws:s3:::HRBucket/Handbook")) == "ExplicitDeny"
