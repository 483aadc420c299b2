"""central.domain.scope.resolve: the nearest of account -> parent OUs -> root wins, then the settings."""

from __future__ import annotations

import pytest

from central.domain.scope import Days, resolve
from tests.unit.factories import account, ou, root

ROTATE_DEFAULT, DELETE_DEFAULT = 85, 5
ACCOUNT_LABEL = "account 111122223333 (payments)"
PROD_LABEL = "OU ou-ab12-prod (Prod)"
WORKLOADS_LABEL = "OU ou-ab12-work (Workloads)"
ROOT_LABEL = "root r-ab12"


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
    assert "no IKR:ENABLED tag" in scope.enabled_source
    assert scope.rotate_after == Days(days=ROTATE_DEFAULT, source="setting ROTATE_AFTER_DAYS")
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source="setting DELETE_AFTER_DAYS")
    assert scope.problems == []


def test_days_tags_alone_do_not_opt_an_account_in():
    scope = resolve_org(root_tags={"IKR:ROTATE_AFTER_DAYS": "30"})

    assert scope.enabled is False
    assert scope.rotate_after.days == 30


def test_a_standalone_account_is_managed_without_any_tag():
    # GIVEN the caller is in no Organization: its own account alone, no tags, no path
    scope = resolve(account(), ROTATE_DEFAULT, DELETE_DEFAULT, standalone=True)

    assert scope.enabled is True
    assert "standalone" in scope.enabled_source
    assert scope.rotate_after == Days(days=ROTATE_DEFAULT, source="setting ROTATE_AFTER_DAYS")
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source="setting DELETE_AFTER_DAYS")


def test_the_resolved_scope_keeps_the_account():
    acct = org_account(account_tags={"IKR:ENABLED": "true"})

    assert resolve(acct, ROTATE_DEFAULT, DELETE_DEFAULT).account == acct


# --- nearest IKR:ENABLED wins -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_v", "prod_v", "workloads_v", "root_v", "enabled", "label"),
    [
        (None, None, None, "true", True, ROOT_LABEL),
        ("true", None, None, None, True, ACCOUNT_LABEL),
        (None, None, "false", "true", False, WORKLOADS_LABEL),
        (None, "true", "false", "false", True, PROD_LABEL),
        ("false", "true", "true", "true", False, ACCOUNT_LABEL),
        ("TRUE", None, None, "false", True, ACCOUNT_LABEL),
    ],
)
def test_the_nearest_ikr_enabled_wins(account_v, prod_v, workloads_v, root_v, enabled, label):
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

    # THEN the nearest decides, and the source names that scope
    assert scope.enabled is enabled
    assert scope.enabled_source == f"{label} tag IKR:ENABLED"
    assert scope.problems == []


def test_the_enabled_tag_key_is_matched_ignoring_case():
    scope = resolve_org(prod_tags={"ikr:Enabled": "true"})

    assert scope.enabled is True
    assert scope.enabled_source == f"{PROD_LABEL} tag IKR:ENABLED"


def test_an_account_with_no_path_reads_its_own_tags():
    scope = resolve(account({"IKR:ENABLED": "true"}), ROTATE_DEFAULT, DELETE_DEFAULT)

    assert scope.enabled is True
    assert scope.enabled_source == f"{ACCOUNT_LABEL} tag IKR:ENABLED"


def test_an_invalid_nearest_enabled_value_fails_closed_with_a_problem():
    # GIVEN the account says 'yes' (not true/false) while the root opts everything in
    scope = resolve_org(account_tags={"IKR:ENABLED": "yes"}, root_tags={"IKR:ENABLED": "true"})

    # THEN the account is not managed, and the problem names scope, tag and value
    assert scope.enabled is False
    assert scope.enabled_source == f"{ACCOUNT_LABEL} tag IKR:ENABLED is invalid"
    assert scope.problems == [f"{ACCOUNT_LABEL}: IKR:ENABLED='yes' must be true or false"]


# --- nearest days win, each on its own ----------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "label"),
    [
        ("account_tags", ACCOUNT_LABEL),
        ("prod_tags", PROD_LABEL),
        ("workloads_tags", WORKLOADS_LABEL),
        ("root_tags", ROOT_LABEL),
    ],
)
def test_days_set_on_one_scope_say_which_scope(where, label):
    scope = resolve_org(**{where: {"IKR:ROTATE_AFTER_DAYS": "30", "IKR:DELETE_AFTER_DAYS": "3"}})

    assert scope.rotate_after == Days(days=30, source=f"{label} tag IKR:ROTATE_AFTER_DAYS")
    assert scope.delete_after == Days(days=3, source=f"{label} tag IKR:DELETE_AFTER_DAYS")


def test_rotate_and_delete_days_are_inherited_independently():
    # GIVEN rotate days on the account and the root, delete days on an OU and the root
    scope = resolve_org(
        account_tags={"IKR:ROTATE_AFTER_DAYS": "30"},
        workloads_tags={"IKR:DELETE_AFTER_DAYS": "10"},
        root_tags={"IKR:ROTATE_AFTER_DAYS": "365", "IKR:DELETE_AFTER_DAYS": "1", "IKR:ENABLED": "true"},
    )

    # THEN each number comes from its own nearest scope
    assert scope.rotate_after == Days(days=30, source=f"{ACCOUNT_LABEL} tag IKR:ROTATE_AFTER_DAYS")
    assert scope.delete_after == Days(days=10, source=f"{WORKLOADS_LABEL} tag IKR:DELETE_AFTER_DAYS")
    assert scope.enabled_source == f"{ROOT_LABEL} tag IKR:ENABLED"


def test_days_not_set_anywhere_fall_back_to_the_setting_alone():
    scope = resolve_org(prod_tags={"IKR:ROTATE_AFTER_DAYS": "60"})

    assert scope.rotate_after.days == 60
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source="setting DELETE_AFTER_DAYS")


@pytest.mark.parametrize("bad", ["0", "7.5", " 90", "٩٠"])
def test_an_invalid_days_value_is_a_problem_naming_scope_tag_and_value(bad):
    # GIVEN the Prod OU has an unusable rotate value, the root a good one
    scope = resolve_org(prod_tags={"IKR:ROTATE_AFTER_DAYS": bad}, root_tags={"IKR:ROTATE_AFTER_DAYS": "45"})

    # THEN the problem names the OU, the tag and the value, and the number is not taken from it
    assert len(scope.problems) == 1
    assert scope.problems[0].startswith(f"{PROD_LABEL}: IKR:ROTATE_AFTER_DAYS={bad!r}")
    assert scope.rotate_after == Days(days=45, source=f"{ROOT_LABEL} tag IKR:ROTATE_AFTER_DAYS")


def test_an_invalid_delete_value_without_a_further_scope_leaves_the_setting():
    scope = resolve_org(root_tags={"IKR:DELETE_AFTER_DAYS": "0"})

    assert scope.problems == [f"{ROOT_LABEL}: IKR:DELETE_AFTER_DAYS='0' must be between 1 and 36500 days"]
    assert scope.delete_after == Days(days=DELETE_DEFAULT, source="setting DELETE_AFTER_DAYS")


def test_one_key_in_two_cases_with_two_values_on_a_scope_is_a_problem_naming_the_scope():
    scope = resolve_org(workloads_tags=[("IKR:ENABLED", "true"), ("ikr:enabled", "false")])

    assert len(scope.problems) == 1
    assert scope.problems[0].startswith(f"{WORKLOADS_LABEL}: ")
    assert "IKR:ENABLED='true'" in scope.problems[0]
    assert "ikr:enabled='false'" in scope.problems[0]


def test_only_the_first_unit_of_the_path_with_an_r_id_is_labelled_root():
    # GIVEN a path whose top unit is not a root id (e.g. a partial path)
    acct = account({}, path=(ou("ou-top-1", "Top", {"IKR:ENABLED": "true"}),))

    scope = resolve(acct, ROTATE_DEFAULT, DELETE_DEFAULT)

    assert scope.enabled_source == "OU ou-top-1 (Top) tag IKR:ENABLED"
