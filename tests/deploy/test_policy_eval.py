"""The test evaluator (policy_eval.py) on cases whose answer AWS documents."""

from __future__ import annotations

import pytest

from tests.deploy.policy_eval import Request, evaluate

# IAM User Guide, "Access to AWS accounts owned by third parties": the ExternalId trust policy.
EXTERNAL_ID_TRUST = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Principal": {"AWS": "111122223333"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "Unique ID Assigned by Example Corp"}},
    },
}
# S3 User Guide: deny requests that do not use TLS.
TLS_ONLY = {
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
    ]
}
TAGGED_USERS = {
    "Statement": {
        "Effect": "Allow",
        "Action": "iam:CreateAccessKey",
        "Resource": "arn:aws:iam::111122223333:user/*",
        "Condition": {"Null": {"aws:ResourceTag/IKR:EMAIL": "false"}},
    }
}
ROLE = "arn:aws:iam::111122223333:role/anyone"


def test_external_id_trust_needs_the_id_and_the_account() -> None:
    assert (
        evaluate(
            [EXTERNAL_ID_TRUST],
            Request("sts:AssumeRole", principal=ROLE, context={"sts:ExternalId": "Unique ID Assigned by Example Corp"}),
        )
        == "Allow"
    )
    assert evaluate([EXTERNAL_ID_TRUST], Request("sts:AssumeRole", principal=ROLE)) == "ImplicitDeny"
    assert (
        evaluate([EXTERNAL_ID_TRUST], Request("sts:AssumeRole", principal=ROLE, context={"sts:ExternalId": "guess"}))
        == "ImplicitDeny"
    )
    other = "arn:aws:iam::444455556666:role/anyone"
    assert (
        evaluate(
            [EXTERNAL_ID_TRUST],
            Request(
                "sts:AssumeRole", principal=other, context={"sts:ExternalId": "Unique ID Assigned by Example Corp"}
            ),
        )
        == "ImplicitDeny"
    )


def test_explicit_deny_beats_allow() -> None:
    plain = Request("s3:GetObject", "arn:aws:s3:::bucket/key", principal=ROLE, context={"aws:SecureTransport": "false"})
    assert evaluate([TLS_ONLY], plain) == "ExplicitDeny"
    tls = Request("s3:GetObject", "arn:aws:s3:::bucket/key", principal=ROLE, context={"aws:SecureTransport": "true"})
    assert evaluate([TLS_ONLY], tls) == "Allow"
    assert (
        evaluate(
            [TLS_ONLY],
            Request("s3:PutObject", "arn:aws:s3:::bucket/key", principal=ROLE, context={"aws:SecureTransport": "true"}),
        )
        == "ImplicitDeny"
    )


def test_null_condition_on_a_resource_tag_with_case_insensitive_keys() -> None:
    user = "arn:aws:iam::111122223333:user/alice"
    assert (
        evaluate([TAGGED_USERS], Request("iam:CreateAccessKey", user, context={"aws:ResourceTag/ikr:email": "a@x"}))
        == "Allow"
    )
    assert evaluate([TAGGED_USERS], Request("iam:CreateAccessKey", user)) == "ImplicitDeny"
    assert (
        evaluate([TAGGED_USERS], Request("IAM:createaccesskey", user, context={"aws:ResourceTag/IKR:EMAIL": "a@x"}))
        == "Allow"
    )
    assert (
        evaluate(
            [TAGGED_USERS],
            Request(
                "iam:CreateAccessKey",
                "arn:aws:iam::444455556666:user/alice",
                context={"aws:ResourceTag/IKR:EMAIL": "a@x"},
            ),
        )
        == "ImplicitDeny"
    )


def test_not_action_and_wildcards() -> None:
    policy = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}
    assert evaluate([policy], Request("iam:CreateUser")) == "ImplicitDeny"
    assert evaluate([policy], Request("s3:ListBucket")) == "Allow"
    like = {
        "Statement": {"Effect": "Allow", "Action": "ssm:Get*", "Resource": "arn:aws:ssm:*:1:parameter/ikr/secret/iam/*"}
    }
    assert (
        evaluate([like], Request("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/ikr/secret/iam/bob/pending"))
        == "Allow"
    )
    assert (
        evaluate([like], Request("ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/ikr/other")) == "ImplicitDeny"
    )


def test_what_it_does_not_know_it_refuses_to_judge() -> None:
    variable = {
        "Statement": {
            "Effect": "Allow",
            "Action": "iam:CreateAccessKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
        }
    }
    with pytest.raises(NotImplementedError):
        evaluate([variable], Request("iam:CreateAccessKey", context={"aws:PrincipalTag/team": "x"}))
    not_principal = {"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*", "Resource": "*"}}
    with pytest.raises(NotImplementedError):
        evaluate([not_principal], Request("s3:GetObject", principal=ROLE))
    unknown = {
        "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringSounds": {"k": "v"}}}
    }
    with pytest.raises(NotImplementedError):
        evaluate([unknown], Request("s3:GetObject", context={"k": "v"}))
