"""A tag ikr cannot use, as a value: where it sits (a level of the Organization, or a user), which key,
and why. `str()` renders it as ikr has always printed it; consumers read the fields."""

from __future__ import annotations

from central.domain.model import Frozen, Level


class Problem(Frozen):
    key: str  # the tag key, upper-case (IKR:ENABLED, IKR:ROTATE_AFTER_DAYS, ...)
    reason: str  # a sentence naming the tag and its value, e.g. "IKR:ENABLED='yes' must be true or false"
    level: Level | None = None  # on the account, an OU above it or the root; None: on a user
    account_id: str | None = None  # the account judged (a level's problem holds for every account under it)
    user: str | None = None  # the user whose tag it is

    def at(self, level: Level, account_id: str) -> Problem:
        return self.model_copy(update={"level": level, "account_id": account_id})

    def of_user(self, account_id: str, user: str) -> Problem:
        return self.model_copy(update={"account_id": account_id, "user": user})

    def __str__(self) -> str:
        # A user's problem is shown in that user's row or line, which names account and user already.
        return f"{self.level}: {self.reason}" if self.level is not None else self.reason
