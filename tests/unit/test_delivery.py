"""IKR:DELIVERY and IKR:VERIFY_USE: where a new key goes, checked against the delivery prefix."""

from __future__ import annotations

import pytest

from central.domain.delivery import MAIL, Delivery, DeliveryProblem, Via, parse_delivery, verify_use_default


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mail", MAIL),
        ("MAIL", MAIL),
        ("secretsmanager:ikr/ci/deployer", Delivery(via=Via.SECRETS_MANAGER, name="ikr/ci/deployer")),
        ("SecretsManager:ikr/app@prod+1", Delivery(via=Via.SECRETS_MANAGER, name="ikr/app@prod+1")),
        ("ssm:/ikr/ci/deployer", Delivery(via=Via.SSM, name="/ikr/ci/deployer")),
        ("SSM:/ikr/a.b-c_d", Delivery(via=Via.SSM, name="/ikr/a.b-c_d")),
    ],
)
def test_good_targets(value: str, expected: Delivery):
    assert parse_delivery(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is not mail, secretsmanager:"),
        ("email", "is not mail, secretsmanager:"),
        ("s3:ikr/bucket", "is not mail, secretsmanager:"),
        ("secretsmanager", "is not mail, secretsmanager:"),
        ("mail:alice", "is not mail, secretsmanager:"),
        ("secretsmanager:", "is not a valid Secrets Manager secret name"),
        ("secretsmanager:ikr/has space", "is not a valid Secrets Manager secret name"),
        ("secretsmanager:prod/ci", "must start with 'ikr/'"),
        ("secretsmanager:IKR/ci", "must start with 'ikr/'"),
        ("ssm:ikr/ci", "is not a valid SSM parameter name"),
        ("ssm:/ikr//ci", "is not a valid SSM parameter name"),
        ("ssm:/ikr/ci/", "is not a valid SSM parameter name"),
        ("ssm:/prod/ci", "must start with '/ikr/'"),
        ("ssm:/ikr/secret/iam/alice", "where ikr keeps its own keys"),
        ("ssm:/ikr/secret/other", "where ikr keeps its own keys"),
        # What SSM would refuse at the write, said when the tag is read (issue 16.5).
        ("ssm:/ikr/" + "/".join(f"l{level}" for level in range(2, 17)), "has 16 levels; SSM allows 15"),
        ("ssm:/ikr/" + "x" * 945, "has 950 characters; SSM allows 949 here (1,011 with the parameter's ARN)"),
        ("ssm:arn:aws:ssm:us-east-1:111122223333:parameter/ikr/ci", "an ARN is not accepted"),
        ("secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:ikr/ci", "an ARN is not accepted"),
    ],
)
def test_bad_targets_are_named(value: str, words: str):
    with pytest.raises(DeliveryProblem) as raised:
        parse_delivery(value)

    assert f"IKR:DELIVERY={value!r}" in str(raised.value)
    assert words in str(raised.value)


def test_another_prefix_moves_both_kinds():
    assert parse_delivery("secretsmanager:machines/ci", "machines/").name == "machines/ci"
    assert parse_delivery("ssm:/machines/ci", "machines/").name == "/machines/ci"
    with pytest.raises(DeliveryProblem, match="must start with 'machines/'"):
        parse_delivery("secretsmanager:ikr/ci", "machines/")


def test_use_is_verified_by_default_only_for_a_store():
    assert verify_use_default(MAIL) is False
    assert verify_use_default(Delivery(via=Via.SSM, name="/ikr/x")) is True
    assert str(Delivery(via=Via.SSM, name="/ikr/x")) == "ssm:/ikr/x"
    assert Delivery(via=Via.SECRETS_MANAGER, name="ikr/x").where == "Secrets Manager secret ikr/x"


def test_the_limits_themselves_are_accepted():
    fifteen = "/ikr/" + "/".join(f"l{level}" for level in range(2, 16))
    assert parse_delivery(f"ssm:{fifteen}").name == fifteen
    longest = "/ikr/" + "x" * 944
    assert parse_delivery(f"ssm:{longest}").name == longest
    with pytest.raises(DeliveryProblem, match="reserves parameter names that start with aws or ssm"):
        parse_delivery("ssm:/ssm-params/ci", "ssm-params/")
