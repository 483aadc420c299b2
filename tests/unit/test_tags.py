"""central.domain.tags: keys compared ignoring case, values checked strictly, problems name tag and value."""

from __future__ import annotations

import pytest

from central.domain import tags as t
from tests.unit.factories import tags

# --- ikr_tags -----------------------------------------------------------------------------------


def test_ikr_tags_upper_cases_keys_and_ignores_foreign_tags():
    # GIVEN ikr tags in mixed case among other teams' tags
    given = tags([("ikr:Email", "a@x.com"), ("Team", "payments"), ("Ikr:Rotate_After_Days", "30")])

    # WHEN they are read
    values, problems = t.ikr_tags(given)

    # THEN only ikr's are kept, keyed upper-case, values untouched
    assert values == {"IKR:EMAIL": "a@x.com", "IKR:ROTATE_AFTER_DAYS": "30"}
    assert problems == []


@pytest.mark.parametrize("foreign", ["IKREMAIL", "XIKR:EMAIL", "aws:IKR:EMAIL"])
def test_ikr_tags_ignores_keys_without_the_ikr_prefix(foreign):
    values, problems = t.ikr_tags(tags([(foreign, "a@x.com")]))

    assert values == {}
    assert problems == []


def test_ikr_tags_keeps_values_exactly_as_given():
    values, _ = t.ikr_tags(tags([("IKR:INSTRUCTION_0", "  Ask Bob  "), ("IKR:EMAIL", "A@X.COM")]))

    assert values == {"IKR:INSTRUCTION_0": "  Ask Bob  ", "IKR:EMAIL": "A@X.COM"}


def test_same_key_in_two_cases_with_the_same_value_is_no_problem():
    values, problems = t.ikr_tags(tags([("IKR:EMAIL", "a@x.com"), ("ikr:email", "a@x.com")]))

    assert values == {"IKR:EMAIL": "a@x.com"}
    assert problems == []


def test_same_key_in_two_cases_with_different_values_is_a_problem_naming_both():
    # GIVEN one key spelled twice with two values (IAM and Organizations keys are case-sensitive)
    given = tags([("IKR:EMAIL", "a@x.com"), ("ikr:email", "b@y.com")])

    # WHEN read
    values, problems = t.ikr_tags(given)

    # THEN one problem names both spellings and both values
    assert len(problems) == 1
    assert problems[0].key == "IKR:EMAIL"
    assert "IKR:EMAIL='a@x.com'" in problems[0].reason
    assert "ikr:email='b@y.com'" in problems[0].reason
    assert "different values" in problems[0].reason
    assert values == {"IKR:EMAIL": "a@x.com"}


def test_each_conflicting_key_is_reported():
    given = tags(
        [
            ("IKR:ROTATE_AFTER_DAYS", "30"),
            ("ikr:rotate_after_days", "60"),
            ("IKR:DELETE_AFTER_DAYS", "3"),
            ("Ikr:Delete_After_Days", "5"),
        ]
    )

    _, problems = t.ikr_tags(given)

    assert [problem.key for problem in problems] == ["IKR:ROTATE_AFTER_DAYS", "IKR:DELETE_AFTER_DAYS"]
    assert "'60'" in problems[0].reason
    assert "'5'" in problems[1].reason


# --- has_email_tag ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([("IKR:EMAIL", "a@x.com")], True),
        ([("ikr:email", "a@x.com")], True),
        ([("Ikr:eMail", "")], True),  # present, even if invalid: decide() reports the value
        ([("IKR:EMAILS", "a@x.com")], False),
        ([("EMAIL", "a@x.com")], False),
        ([], False),
    ],
)
def test_has_email_tag_matches_the_key_ignoring_case(given, expected):
    assert t.has_email_tag(tags(given)) is expected


# --- parse_days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("90", 90), ("36500", 36_500)])
def test_parse_days_accepts_whole_numbers_in_range(value, expected):
    assert t.parse_days(t.ROTATE_AFTER_DAYS, value) == expected


NOT_A_NUMBER = [
    "",
    " 90",
    "90\n",
    "-5",
    "+5",
    "90.0",
    "1_000",  # int() would accept it
    "ninety",
    "٩٠",  # Arabic-Indic digits: int() would accept them, ikr must not
    "\uff19\uff10",  # full-width 90
]


@pytest.mark.parametrize("value", NOT_A_NUMBER)
def test_parse_days_rejects_anything_but_ascii_digits(value):
    with pytest.raises(t.TagProblem) as raised:
        t.parse_days(t.DELETE_AFTER_DAYS, value)

    message = str(raised.value)
    assert f"IKR:DELETE_AFTER_DAYS={value!r}" in message
    assert "whole number of days" in message


@pytest.mark.parametrize("value", ["0", "000", "36501"])
def test_parse_days_rejects_zero_and_more_than_a_hundred_years(value):
    with pytest.raises(t.TagProblem) as raised:
        t.parse_days(t.ROTATE_AFTER_DAYS, value)

    message = str(raised.value)
    assert f"IKR:ROTATE_AFTER_DAYS={value!r}" in message
    assert f"between 1 and {t.MAX_DAYS} days" in message


@pytest.mark.parametrize("value", ["1000000", "9" * 256])
def test_parse_days_rejects_huge_numbers_naming_tag_and_value(value):
    with pytest.raises(t.TagProblem) as raised:
        t.parse_days(t.ROTATE_AFTER_DAYS, value)

    assert f"IKR:ROTATE_AFTER_DAYS={value!r}" in str(raised.value)


def test_tag_problem_is_a_value_error():
    with pytest.raises(ValueError, match="IKR:ROTATE_AFTER_DAYS"):
        t.parse_days(t.ROTATE_AFTER_DAYS, "soon")


# --- parse_bool ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("false", False), ("False", False)],
)
def test_parse_bool_accepts_true_and_false_in_any_case(value, expected):
    assert t.parse_bool(t.ENABLED, value) is expected


@pytest.mark.parametrize("value", ["", "yes", "1", " true", "true ", "truee"])
def test_parse_bool_rejects_anything_else(value):
    with pytest.raises(t.TagProblem) as raised:
        t.parse_bool(t.ENABLED, value)

    message = str(raised.value)
    assert f"IKR:ENABLED={value!r}" in message
    assert "must be true or false" in message


# --- parse_email --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "Alice@example.com"),  # the domain is normalised, the mailbox kept
    ],
)
def test_parse_email_returns_the_normalised_address(value, expected):
    assert t.parse_email(t.EMAIL, value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-address",
        "a@x.com,b@y.com",
        "a@x.com b@y.com",
        "Alice <alice@example.com>",
        " alice@example.com",
        "a" * 245 + "@example.com",  # 257 characters: longer than any address may be
    ],
)
def test_parse_email_rejects_anything_but_one_address(value):
    with pytest.raises(t.TagProblem) as raised:
        t.parse_email(t.EMAIL, value)

    message = str(raised.value)
    assert f"IKR:EMAIL={value!r}" in message
    assert "is not one e-mail address" in message


# --- instructions -------------------------------------------------------------------------------


def test_instructions_are_joined_in_numeric_order_with_2_before_10():
    # GIVEN numbered instructions listed out of order (as a string sort would get them wrong)
    given = {
        "IKR:INSTRUCTION_10": "Then restart the service.",
        "IKR:INSTRUCTION_2": "Update the vault entry.",
        "IKR:INSTRUCTION_0": "Fetch the new key.",
        "IKR:EMAIL": "alice@example.com",
    }

    # WHEN they are joined
    text, problems = t.instructions(given)

    # THEN the order is 0, 2, 10 and other tags are left out
    assert text == "Fetch the new key. Update the vault entry. Then restart the service."
    assert problems == []


def test_instructions_strip_values_and_skip_blank_ones():
    text, problems = t.instructions(
        {"IKR:INSTRUCTION_1": "   ", "IKR:INSTRUCTION_0": "  first  ", "IKR:INSTRUCTION_3": "last\n"}
    )

    assert text == "first last"
    assert problems == []


def test_no_instruction_tags_give_empty_text_and_no_problems():
    assert t.instructions({"IKR:EMAIL": "alice@example.com"}) == ("", [])


@pytest.mark.parametrize(
    "bad_key",
    [
        "IKR:INSTRUCTION_X",
        "IKR:INSTRUCTION_",
        "IKR:INSTRUCTION_12345",
        "IKR:INSTRUCTION_٢",  # a non-ASCII digit
    ],
)
def test_a_malformed_instruction_key_is_a_problem_and_its_text_left_out(bad_key):
    # GIVEN one good instruction and one whose key has no usable number
    given = {"IKR:INSTRUCTION_0": "Rotate the app secret.", bad_key: "SECRET TEXT"}

    # WHEN joined
    text, problems = t.instructions(given)

    # THEN the good one is kept, the bad one is reported by its key and dropped
    assert text == "Rotate the app secret."
    assert len(problems) == 1
    assert bad_key in problems[0]
    assert "IKR:INSTRUCTION_<number>" in problems[0]
    assert "SECRET TEXT" not in text


def test_instruction_keys_in_any_case_are_ordered_after_ikr_tags():
    # GIVEN raw tags spelled in several cases
    values, _ = t.ikr_tags(tags([("ikr:instruction_1", "second"), ("Ikr:Instruction_0", "first")]))

    # WHEN joined
    text, problems = t.instructions(values)

    # THEN case does not matter
    assert text == "first second"
    assert problems == []


def test_instructions_keep_full_256_character_values():
    long_a, long_b = "a" * 256, "b" * 256

    text, problems = t.instructions({"IKR:INSTRUCTION_1": long_b, "IKR:INSTRUCTION_0": long_a})

    assert text == f"{long_a} {long_b}"
    assert problems == []


def test_an_internationalized_domain_is_given_in_its_idna_form():
    from central.domain.tags import parse_email

    assert parse_email("IKR:EMAIL", "user@bücher.example") == "user@xn--bcher-kva.example"
    assert parse_email("IKR:EMAIL", "user@BÜCHER.example") == "user@xn--bcher-kva.example"
    assert parse_email("IKR:EMAIL", "user@xn--bcher-kva.example") == "user@xn--bcher-kva.example"


def test_a_non_ascii_local_part_is_a_tag_problem_naming_the_tag():
    from central.domain.tags import TagProblem, parse_email

    with pytest.raises(TagProblem, match=r"IKR:EMAIL='jürgen@example.com': the part before the @ is not plain ASCII"):
        parse_email("IKR:EMAIL", "jürgen@example.com")
