"""What a run did, per account and user: printed by the CLI, returned by the handlers, reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Outcome(StrEnum):
    ROTATED = "rotated"
    WOULD_ROTATE = "would-rotate"
    NOT_DUE = "not-due"
    PENDING = "pending"
    SKIPPED = "skipped"
    FAILED = "failed"
    RECOVERED = "recovered"
    WOULD_RECOVER = "would-recover"
    IN_PROGRESS = "in-progress"  # another run holds the user's rotation lease: left to it


class AccountStatus(StrEnum):
    DONE = "done"
    NOT_OPTED_IN = "not-opted-in"
    FAILED = "failed"
    # Opted in, but ikr's access was never put there (the management account without its member role):
    # a deployment step to take once, not a failure of every run.
    NOT_DEPLOYED = "not-deployed"


@dataclass(frozen=True, slots=True)
class UserResult:
    """One user's row. A slotted dataclass, not a pydantic model: a run over thousands of accounts
    holds one per managed user (800,000 for 8,000 accounts of 100), and a model with its field set
    and `__dict__` took ~750 bytes a row against ~250 here. Pydantic still validates and dumps it
    as a field of `AccountResult`."""

    user: str
    outcome: Outcome
    detail: str
    failed: bool = False  # a failure or bad input: the run's exit code becomes 1
    new_key_id: str | None = None
    old_key_id: str | None = None
    old_key_deleted_at: datetime | None = None


class AccountResult(BaseModel):
    account_id: str
    account_name: str
    ou_path: str = ""
    status: AccountStatus
    detail: str = ""
    users: list[UserResult] = Field(default_factory=list)
    # Users folded away (`folded`), counted by outcome: a run that has printed an account keeps only its
    # failed users' rows. Never in the JSON: only the CLI's run folds, and it prints every row first.
    folded_counts: dict[Outcome, int] = Field(default_factory=dict, exclude=True)

    @property
    def failed(self) -> bool:
        return self.status is AccountStatus.FAILED or any(user.failed for user in self.users)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for user in self.users if user.outcome is outcome) + self.folded_counts.get(outcome, 0)

    def folded(self) -> AccountResult:
        """This row with only its failed users kept (the totals, notices and exit code need no more) and
        the others counted: what a run over thousands of accounts keeps once an account is printed."""
        kept = [user for user in self.users if user.failed]
        counts = dict(self.folded_counts)
        for user in self.users:
            if not user.failed:
                counts[user.outcome] = counts.get(user.outcome, 0) + 1
        return self.model_copy(update={"users": kept, "folded_counts": counts})


class RunResult(BaseModel):
    run_id: str
    now: datetime
    dry_run: bool
    standalone: bool = False
    swept: int = 0
    accounts: list[AccountResult] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(account.failed for account in self.accounts)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def total(self, outcome: Outcome) -> int:
        return sum(account.count(outcome) for account in self.accounts)
