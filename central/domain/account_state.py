"""An Organizations account's lifecycle state, and which ones ikr works.

AWS retired the `Status` field of ListAccounts / DescribeAccount on 2026-09-09; accounts carry `State`
(PENDING_ACTIVATION, ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED). Only ACTIVE accounts are worked.
The other known states are left out as they always were (nobody can work in a closing account). A
state ikr does not know is never taken for ACTIVE: the account is not worked, and its row in the run
and in the report says why, so a new lifecycle state AWS adds is seen, not silently skipped. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

ACTIVE = "ACTIVE"
# States in which an account is not worked and nobody needs telling: it is not there to rotate in.
NOT_WORKED = frozenset({"PENDING_ACTIVATION", "SUSPENDED", "PENDING_CLOSURE", "CLOSED"})
# What an account whose listing names no state at all is taken for: not active (see `state_of`).
NONE_GIVEN = "(none)"


def state_of(listed: Mapping[str, object]) -> str:
    """The state of one account as ListAccounts / ListAccountsForParent / DescribeAccount give it:
    `State`; `Status` only when `State` is absent (an emulator of before the change); neither: unknown."""
    for field in ("State", "Status"):
        value = listed.get(field)
        if isinstance(value, str) and value:
            return value
    return NONE_GIVEN


def known_not_worked(state: str) -> bool:
    """An account left out without a word: known to AWS's lifecycle and not ACTIVE."""
    return state in NOT_WORKED


def unknown(state: str) -> bool:
    """A state ikr does not know: the account is not worked and its row says so."""
    return state != ACTIVE and state not in NOT_WORKED


def unknown_detail(state: str) -> str:
    """Why an account in a state ikr does not know was not worked, for its run row and report row."""
    return (
        f"account state {state} is unknown to ikr (it works ACTIVE accounts only): not worked; "
        "upgrade ikr if AWS added this state"
    )
