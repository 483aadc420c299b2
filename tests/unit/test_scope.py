"""central.domain.scope.resolve: the nearest of account -> parent OUs -> root wins, then the settings."""

from __future__ import annotations

import pytest

from central.domain.model import Level, LevelKind
from central.domain.problems import Problem
from central.domain.scope import Days, resolve
from central.domain.sources import OptIn, OptInReason, Source
from tests.unit.factories import account, ou, root

ROTATE_DEFAULT, DELETE_DEFAULT = 85, 5
ACCOUNT_LABEL = "account 111122223333 (payments)"
PROD_LABEL = "OU ou-ab12-prod (Prod)"
WORKLOADS_LABEL = "OU ou-ab12-work (Workloads)"
ROOT_LABEL = "root r-ab12"
ACCOUNT = Level(kind=LevelKind.ACCOUNT, id="111122223333", name="payments")
PROD = Level(kind=LevelKind.OU, id="ou-ab12-prod", name="Prod")
WORKLOADS = Level(kind=LevelKind.OU, id="ou-ab12-work", name="Workloads")
ROOT = Level(kind=LevelKind.ROOT, id="r-ab12", name="Root")
LABELS = {ACCOUNT: ACCOUNT_LABEL, PROD: PROD_LABEL, WORKLOADS: WORKLOADS_LABEL, ROOT: ROOT_LABEL}
SETTING_ROTATE = Source.setting("ROTATE_AFTER_DAYS")
SETTING_DELETE = Source.setting("DELETE_AFTER_DAYS")


def org_account(account_tags=(), prod_tags=(), workloads_tags=(), root_tags=()):
    """root r-ab12 / OU Workloads / OU Prod / account payments, each with the given tags."""
    path = (
        root(root_tags),
        ou("ou-ab12-work", "Workloads", workloads_tags),
        ou("ou-ab12-prod", "Prod", prod_tags),
    )
    return account(account_tags, path=path)


def resolve_org(**scope_tags):
    return resolve(org_account(**scope_tags), ROTATE_DEFAULT, DELETE_DEFAULT)


# --- defaults and opt-in ------------------------------------------------------------------------


def test_no_ikr_enabled_anywhere_means_not_managed_with_settings_defaults():
    # GIVEN an Organization account with no ikr tags on itself or any parent
    # WHEN resolved
    scope = resolve_org()

    # THEN it is not managed, and the days are the settings', saying so
    assert scope.enabled is False
    assert scope.opt_in == OptIn.no_tag()
    assert str(scope.opt_in) == "no IKR:ENABLED tag on the account or any parent"
    assert scope.rotate_after == Days(days=ROTATE_DEFAULT, source=SETTING_ROTATE)
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source=SETTING_DELETE)
    assert scope.problems == []


def test_days_tags_alone_do_not_opt_an_account_in():
    scope = resolve_org(root_tags={"IKR:ROTATE_AFTER_DAYS": "30"})

    assert scope.enabled is False
    assert scope.rotate_after.days == 30


def test_a_standalone_account_is_managed_without_any_tag():
    # GIVEN the caller is in no Organization: its own account alone, no tags, no path
    scope = resolve(account(), ROTATE_DEFAULT, DELETE_DEFAULT, standalone=True)

    assert scope.enabled is True
    assert scope.opt_in == OptIn(managed=True, reason=OptInReason.STANDALONE)
    assert str(scope.opt_in) == "standalone account (no Organization)"
    assert scope.rotate_after == Days(days=ROTATE_DEFAULT, source=SETTING_ROTATE)
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source=SETTING_DELETE)


def test_the_resolved_scope_keeps_the_account():
    acct = org_account(account_tags={"IKR:ENABLED": "true"})

    assert resolve(acct, ROTATE_DEFAULT, DELETE_DEFAULT).account == acct


# --- nearest IKR:ENABLED wins -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_v", "prod_v", "workloads_v", "root_v", "enabled", "level"),
    [
        (None, None, None, "true", True, ROOT),
        ("true", None, None, None, True, ACCOUNT),
        (None, None, "false", "true", False, WORKLOADS),
        (None, "true", "false", "false", True, PROD),
        ("false", "true", "true", "true", False, ACCOUNT),
        ("TRUE", None, None, "false", True, ACCOUNT),
    ],
)
def test_the_nearest_ikr_enabled_wins(account_v, prod_v, workloads_v, root_v, enabled, level):
    def enabled_tag(value):
        return {} if value is None else {"IKR:ENABLED": value}

    # GIVEN IKR:ENABLED set on some scopes of the account's path
    # WHEN resolved
    scope = resolve_org(
        account_tags=enabled_tag(account_v),
        prod_tags=enabled_tag(prod_v),
        workloads_tags=enabled_tag(workloads_v),
        root_tags=enabled_tag(root_v),
    )

    # THEN the nearest decides, and the opt-in names that scope
    assert scope.enabled is enabled
    assert scope.opt_in == OptIn(managed=enabled, reason=OptInReason.TAG, level=level)
    assert str(scope.opt_in) == f"{LABELS[level]} tag IKR:ENABLED"
    assert scope.problems == []


def test_the_enabled_tag_key_is_matched_ignoring_case():
    scope = resolve_org(prod_tags={"ikr:Enabled": "true"})

    assert scope.enabled is True
    assert scope.opt_in == OptIn.by_tag(PROD, managed=True)


def test_an_account_with_no_path_reads_its_own_tags():
    scope = resolve(account({"IKR:ENABLED": "true"}), ROTATE_DEFAULT, DELETE_DEFAULT)

    assert scope.enabled is True
    assert scope.opt_in == OptIn.by_tag(ACCOUNT, managed=True)
    assert str(scope.opt_in) == f"{ACCOUNT_LABEL} tag IKR:ENABLED"


def test_an_invalid_nearest_enabled_value_fails_closed_with_a_problem():
    # GIVEN the account says 'yes' (not true/false) while the root opts everything in
    scope = resolve_org(account_tags={"IKR:ENABLED": "yes"}, root_tags={"IKR:ENABLED": "true"})

    # THEN the account is not managed, and the problem names scope, tag and value
    assert scope.enabled is False
    assert scope.opt_in == OptIn.invalid_tag(ACCOUNT)
    assert str(scope.opt_in) == f"{ACCOUNT_LABEL} tag IKR:ENABLED is invalid"
    assert scope.problems == [
        Problem(
            key="IKR:ENABLED",
            reason="IKR:ENABLED='yes' must be true or false",
            level=ACCOUNT,
            account_id="111122223333",
        )
    ]
    assert [str(problem) for problem in scope.problems] == [f"{ACCOUNT_LABEL}: IKR:ENABLED='yes' must be true or false"]
    assert scope.blocked


# --- nearest days win, each on its own ----------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "level"),
    [
        ("account_tags", ACCOUNT),
        ("prod_tags", PROD),
        ("workloads_tags", WORKLOADS),
        ("root_tags", ROOT),
    ],
)
def test_days_set_on_one_scope_say_which_scope(where, level):
    scope = resolve_org(**{where: {"IKR:ROTATE_AFTER_DAYS": "30", "IKR:DELETE_AFTER_DAYS": "3"}})

    assert scope.rotate_after == Days(days=30, source=Source.tag(level, "IKR:ROTATE_AFTER_DAYS"))
    assert scope.delete_after == Days(days=3, source=Source.tag(level, "IKR:DELETE_AFTER_DAYS"))
    assert str(scope.rotate_after.source) == f"{LABELS[level]} tag IKR:ROTATE_AFTER_DAYS"


def test_rotate_and_delete_days_are_inherited_independently():
    # GIVEN rotate days on the account and the root, delete days on an OU and the root
    scope = resolve_org(
        account_tags={"IKR:ROTATE_AFTER_DAYS": "30"},
        workloads_tags={"IKR:DELETE_AFTER_DAYS": "10"},
        root_tags={"IKR:ROTATE_AFTER_DAYS": "365", "IKR:DELETE_AFTER_DAYS": "1", "IKR:ENABLED": "true"},
    )

    # THEN each number comes from its own nearest scope
    assert scope.rotate_after == Days(days=30, source=Source.tag(ACCOUNT, "IKR:ROTATE_AFTER_DAYS"))
    assert scope.delete_after == Days(days=10, source=Source.tag(WORKLOADS, "IKR:DELETE_AFTER_DAYS"))
    assert scope.opt_in == OptIn.by_tag(ROOT, managed=True)


def test_days_not_set_anywhere_fall_back_to_the_setting_alone():
    scope = resolve_org(prod_tags={"IKR:ROTATE_AFTER_DAYS": "60"})

    assert scope.rotate_after.days == 60
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source=SETTING_DELETE)


@pytest.mark.parametrize("bad", ["0", "7.5", " 90", "٩٠"])
def test_an_invalid_days_value_is_a_problem_naming_scope_tag_and_value(bad):
    # GIVEN the Prod OU has an unusable rotate value, the root a good one
    scope = resolve_org(prod_tags={"IKR:ROTATE_AFTER_DAYS": bad}, root_tags={"IKR:ROTATE_AFTER_DAYS": "45"})

    # THEN the problem names the OU, the tag and the value, and the number is not taken from it
    assert len(scope.problems) == 1
    problem = scope.problems[0]
    assert (problem.level, problem.key, problem.account_id, problem.user) == (
        PROD,
        "IKR:ROTATE_AFTER_DAYS",
        "111122223333",
        None,
    )
    assert str(problem).startswith(f"{PROD_LABEL}: IKR:ROTATE_AFTER_DAYS={bad!r}")
    assert scope.rotate_after == Days(days=45, source=Source.tag(ROOT, "IKR:ROTATE_AFTER_DAYS"))
    assert not scope.blocked  # a bad days tag matters only where ikr works


def test_an_invalid_delete_value_without_a_further_scope_leaves_the_setting():
    scope = resolve_org(root_tags={"IKR:DELETE_AFTER_DAYS": "0"})

    assert [str(problem) for problem in scope.problems] == [
        f"{ROOT_LABEL}: IKR:DELETE_AFTER_DAYS='0' must be between 1 and 36500 days"
    ]
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source=SETTING_DELETE)


def test_one_key_in_two_cases_with_two_values_on_a_scope_is_a_problem_naming_the_scope():
    scope = resolve_org(workloads_tags=[("IKR:ENABLED", "true"), ("ikr:enabled", "false")])

    assert len(scope.problems) == 1
    problem = scope.problems[0]
    assert (problem.level, problem.key) == (WORKLOADS, "IKR:ENABLED")
    assert str(problem).startswith(f"{WORKLOADS_LABEL}: ")
    assert "IKR:ENABLED='true'" in problem.reason
    assert "ikr:enabled='false'" in problem.reason
    assert scope.blocked  # a doubtful IKR:ENABLED blocks the account whatever it resolved to


def test_two_spellings_of_ikr_enabled_block_the_account_even_without_the_upper_case_one():
    # GIVEN IKR:ENABLED written twice, neither time in upper case, with two values
    scope = resolve_org(workloads_tags=[("Ikr:Enabled", "false"), ("ikr:enabled", "true")])

    # THEN the problem is known by its key, not by finding "IKR:ENABLED" in its text
    assert [problem.key for problem in scope.problems] == ["IKR:ENABLED"]
    assert scope.enabled is False
    assert scope.blocked


def test_only_the_first_unit_of_the_path_with_an_r_id_is_labelled_root():
    # GIVEN a path whose top unit is not a root id (e.g. a partial path)
    acct = account({}, path=(ou("ou-top-1", "Top", {"IKR:ENABLED": "true"}),))

    scope = resolve(acct, ROTATE_DEFAULT, DELETE_DEFAULT)

    assert scope.opt_in == OptIn.by_tag(Level(kind=LevelKind.OU, id="ou-top-1", name="Top"), managed=True)
    assert str(scope.opt_in) == "OU ou-top-1 (Top) tag IKR:ENABLED"
