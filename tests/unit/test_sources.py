"""central.domain.sources and central.domain.problems: values that render to the texts ikr has always
printed, compare by their fields, and refuse combinations that cannot happen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from central.domain.model import Level, LevelKind
from central.domain.problems import Problem
from central.domain.scope import Days
from central.domain.sources import OptIn, OptInReason, Source, SourceKind

ACCOUNT = Level(kind=LevelKind.ACCOUNT, id="111122223333", name="payments")
OU = Level(kind=LevelKind.OU, id="ou-ab12-work", name="Workloads")
ROOT = Level(kind=LevelKind.ROOT, id="r-ab12", name="Root")


@pytest.mark.parametrize(
    ("level", "text"),
    [(ACCOUNT, "account 111122223333 (payments)"), (OU, "OU ou-ab12-work (Workloads)"), (ROOT, "root r-ab12")],
)
def test_a_level_renders_as_the_scope_it_names(level, text):
    assert str(level) == text


@pytest.mark.parametrize(
    ("source", "text"),
    [
        (Source.setting("ROTATE_AFTER_DAYS"), "setting ROTATE_AFTER_DAYS"),
        (Source.user_tag("IKR:DELETE_AFTER_DAYS"), "user tag"),
        (Source.tag(ACCOUNT, "IKR:ROTATE_AFTER_DAYS"), "account 111122223333 (payments) tag IKR:ROTATE_AFTER_DAYS"),
        (Source.tag(OU, "IKR:DELETE_AFTER_DAYS"), "OU ou-ab12-work (Workloads) tag IKR:DELETE_AFTER_DAYS"),
        (Source.tag(ROOT, "IKR:ROTATE_AFTER_DAYS"), "root r-ab12 tag IKR:ROTATE_AFTER_DAYS"),
        (Source.unset(), "unset"),
    ],
)
def test_a_source_renders_as_before(source, text):
    assert str(source) == text
    assert f"({source})" == f"({text})"  # as the reasons and report rows embed it


def test_sources_are_equal_by_their_fields_and_hashable():
    assert Source.tag(OU, "IKR:ROTATE_AFTER_DAYS") == Source.tag(
        Level(kind=LevelKind.OU, id="ou-ab12-work", name="Workloads"), "IKR:ROTATE_AFTER_DAYS"
    )
    assert Source.tag(OU, "IKR:ROTATE_AFTER_DAYS") != Source.tag(OU, "IKR:DELETE_AFTER_DAYS")
    assert Source.tag(OU, "IKR:ROTATE_AFTER_DAYS") != Source.tag(ROOT, "IKR:ROTATE_AFTER_DAYS")
    assert Source.user_tag("IKR:ROTATE_AFTER_DAYS") != Source.setting("ROTATE_AFTER_DAYS")
    assert len({Source.setting("ROTATE_AFTER_DAYS"), Source.setting("ROTATE_AFTER_DAYS")}) == 1
    assert Days(days=30, source=Source.tag(OU, "IKR:ROTATE_AFTER_DAYS")) == Days(
        days=30, source=Source.tag(OU, "IKR:ROTATE_AFTER_DAYS")
    )


def test_a_source_is_frozen_and_survives_json():
    source = Source.tag(OU, "IKR:ROTATE_AFTER_DAYS")

    with pytest.raises(ValidationError):
        source.key = "IKR:DELETE_AFTER_DAYS"  # type: ignore[misc]
    assert Source.model_validate_json(source.model_dump_json()) == source


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": SourceKind.LEVEL_TAG, "key": "IKR:ROTATE_AFTER_DAYS"},  # a level's tag without the level
        {"kind": SourceKind.SETTING, "key": "ROTATE_AFTER_DAYS", "level": OU},  # a setting with a level
    ],
)
def test_a_source_with_a_level_exactly_when_a_level_tag_decided(fields):
    with pytest.raises(ValidationError, match="level"):
        Source(**fields)


@pytest.mark.parametrize(
    ("opt_in", "managed", "text"),
    [
        (OptIn.by_tag(OU, managed=True), True, "OU ou-ab12-work (Workloads) tag IKR:ENABLED"),
        (OptIn.by_tag(ACCOUNT, managed=False), False, "account 111122223333 (payments) tag IKR:ENABLED"),
        (OptIn.invalid_tag(ROOT), False, "root r-ab12 tag IKR:ENABLED is invalid"),
        (OptIn.no_tag(), False, "no IKR:ENABLED tag on the account or any parent"),
        (OptIn.standalone(), True, "standalone account (no Organization)"),
    ],
)
def test_an_opt_in_says_whether_and_why_and_renders_as_before(opt_in, managed, text):
    assert opt_in.managed is managed
    assert str(opt_in) == text


@pytest.mark.parametrize(
    "fields",
    [
        {"managed": True, "reason": OptInReason.TAG},  # a tag decided, but whose?
        {"managed": False, "reason": OptInReason.NO_TAG, "level": OU},
        {"managed": True, "reason": OptInReason.NO_TAG},  # no tag never opts in
        {"managed": True, "reason": OptInReason.INVALID_TAG, "level": OU},  # an invalid tag never opts in
        {"managed": False, "reason": OptInReason.STANDALONE},  # a standalone account is always managed
    ],
)
def test_an_opt_in_that_cannot_happen_is_refused(fields):
    with pytest.raises(ValidationError):
        OptIn(**fields)


def test_a_problem_on_a_level_renders_with_the_level_and_one_on_a_user_alone():
    bare = Problem(
        key="IKR:ROTATE_AFTER_DAYS", reason="IKR:ROTATE_AFTER_DAYS='x' is not a positive whole number of days"
    )

    on_ou = bare.at(OU, "111122223333")
    on_user = bare.of_user("111122223333", "alice")

    assert (on_ou.level, on_ou.account_id, on_ou.user) == (OU, "111122223333", None)
    assert str(on_ou) == "OU ou-ab12-work (Workloads): IKR:ROTATE_AFTER_DAYS='x' is not a positive whole number of days"
    assert (on_user.level, on_user.account_id, on_user.user) == (None, "111122223333", "alice")
    assert str(on_user) == "IKR:ROTATE_AFTER_DAYS='x' is not a positive whole number of days"  # the row names the user
    assert on_ou != bare
    assert on_ou == bare.at(OU, "111122223333")
