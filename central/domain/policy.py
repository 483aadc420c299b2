"""Pure decisions: a user's keys, tags, inherited days and the time in; what to do out.

The same decision drives the real run, the dry run and the report. No AWS here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from central.domain import tags as t
from central.domain.ci_targets import CiTargetProblem, secret_names
from central.domain.delivery import DEFAULT_PREFIX, MAIL, Delivery, DeliveryProblem, parse_delivery, verify_use_default
from central.domain.exemption import Exemption, read_exemption
from central.domain.model import AccessKey, Frozen, IamUser, KeyStatus
from central.domain.problems import Problem
from central.domain.scope import AccountScope, Days
from central.domain.sources import Source


class Action(StrEnum):
    ROTATE = "rotate"
    NOT_DUE = "not-due"
    PENDING = "pending"  # rotated already; the old key waits for its deletion time
    SKIP = "skip"


class PendingOld(Frozen):
    """An old key of this user already recorded for deletion."""

    key_id: str
    expires_at: datetime
    gave_up: bool = False  # destruction failed IKR_MAX_DESTROY_ATTEMPTS times: a person must act
    unrecorded: bool = False  # a key ikr never recorded, made Inactive after an interrupted rotation


class Decision(Frozen):
    user: str
    action: Action
    reason: str  # in words; for a skip over bad tags, `problems` rendered
    email: str | None = None
    rotate_after: Days
    delete_after: Days
    key: AccessKey | None = None  # the key to rotate, or the one whose age was judged
    due_at: datetime | None = None
    instructions: str = ""
    delivery: Delivery = MAIL
    verify_use: bool = False  # keep the old key until the new one is seen in use
    bad_input: bool = False  # a tag the user must fix: counts as a failure of the run
    problems: tuple[Problem, ...] = ()  # the user's tags ikr cannot use: the user is skipped
    warnings: tuple[str, ...] = ()
    remind_before: int | None = None  # IKR:REMIND_BEFORE_DAYS (None: the setting REMIND_BEFORE_DAYS)
    exemption: Exemption | None = None  # IKR:EXEMPT_UNTIL, active or lapsed
    exempt: bool = False  # the exemption holds now: the user is skipped (no rotation, no reminder)
    # Why a rotation was asked for regardless of age (`ikr rotate --now-due --reason`, an exposed key);
    # None: a scheduled rotation. Recorded in the journal (`ExpiryItem.reason`).
    on_demand: str | None = None


class UserTagValues(Frozen):
    """A user's IKR: tags read with the scan's validators: the values, and what is wrong with them."""

    email: str | None = None
    rotate_after: Days
    delete_after: Days
    delivery: Delivery = MAIL
    verify_use: bool = False
    instructions: str = ""
    problems: tuple[Problem, ...] = ()  # the user is skipped (no account or user on them: the caller knows)
    warnings: tuple[str, ...] = ()  # the user is worked, and the run counts it as bad input
    remind_before: int | None = None
    exemption: Exemption | None = None


def read_user_tags(
    values: dict[str, str], rotate_after: Days, delete_after: Days, delivery_prefix: str = DEFAULT_PREFIX
) -> UserTagValues:
    """`values` keyed by upper-case tag key (tags.ikr_tags); the days default to the scope's.
    The scan and `ikr tag-users` both judge tags here, so a file that passes will not be refused."""
    problems: list[Problem] = []
    email: str | None = None
    if t.EMAIL in values:
        try:
            email = t.parse_email(t.EMAIL, values[t.EMAIL])
        except t.TagProblem as exc:
            problems.append(exc.problem())
    if t.ROTATE_AFTER_DAYS in values:
        try:
            rotate_after = _user_days(t.ROTATE_AFTER_DAYS, values)
        except t.TagProblem as exc:
            problems.append(exc.problem())
    if t.DELETE_AFTER_DAYS in values:
        try:
            delete_after = _user_days(t.DELETE_AFTER_DAYS, values)
        except t.TagProblem as exc:
            problems.append(exc.problem())
    delivery = MAIL
    if t.DELIVERY in values:
        try:
            delivery = parse_delivery(values[t.DELIVERY], delivery_prefix)
        except DeliveryProblem as exc:
            problems.append(Problem(key=t.DELIVERY, reason=str(exc)))
    delivery, names_warning = _with_secret_names(values, delivery, problems)
    verify_use = verify_use_default(delivery)
    if t.VERIFY_USE in values:
        try:
            verify_use = t.parse_bool(t.VERIFY_USE, values[t.VERIFY_USE])
        except t.TagProblem as exc:
            problems.append(exc.problem())
    remind_before, exemption = _ahead(values, problems)
    instruction_text, warnings = t.instructions(values)
    warnings.extend(names_warning)
    warnings.extend(t.unknown_user_keys(values))
    return UserTagValues(
        email=email,
        rotate_after=rotate_after,
        delete_after=delete_after,
        delivery=delivery,
        verify_use=verify_use,
        instructions=instruction_text,
        problems=tuple(problems),
        warnings=tuple(warnings),
        remind_before=remind_before,
        exemption=exemption,
    )


def _with_secret_names(
    values: dict[str, str], delivery: Delivery, problems: list[Problem]
) -> tuple[Delivery, list[str]]:
    """IKR:SECRET_NAMES on a github:/gitlab: delivery names what it writes; elsewhere it means nothing."""
    if t.SECRET_NAMES not in values:
        return delivery, []
    value = values[t.SECRET_NAMES]
    if not delivery.to_ci:
        if any(problem.key == t.DELIVERY for problem in problems):
            return delivery, []  # the delivery itself is refused; that is the message
        return delivery, [f"{t.SECRET_NAMES}={value!r} applies to github: and gitlab: deliveries only; it is ignored"]
    try:
        names = secret_names(value, delivery.via.value)
    except CiTargetProblem as exc:
        problems.append(Problem(key=t.SECRET_NAMES, reason=f"{t.SECRET_NAMES}={value!r}: {exc}"))
        return delivery, []
    return delivery.model_copy(update={"names": names}), []


def _ahead(values: dict[str, str], problems: list[Problem]) -> tuple[int | None, Exemption | None]:
    """IKR:REMIND_BEFORE_DAYS and IKR:EXEMPT_UNTIL (+ reason); a bad value adds its problem."""
    remind_before: int | None = None
    if t.REMIND_BEFORE_DAYS in values:
        try:
            remind_before = t.parse_reminder_days(t.REMIND_BEFORE_DAYS, values[t.REMIND_BEFORE_DAYS])
        except t.TagProblem as exc:
            problems.append(exc.problem())
    try:
        return remind_before, read_exemption(values)
    except t.TagProblem as exc:
        problems.append(exc.problem())
        return remind_before, None


def _user_days(key: str, values: dict[str, str]) -> Days:
    return Days(days=t.parse_days(key, values[key]), source=Source.user_tag(key))


def rotation_due(created: datetime, rotate_after_days: int) -> datetime:
    """When a key made at `created` is due, counted as the original tool counts: it rotates when the
    key's age in whole days is greater than ROTATE_AFTER_DAYS (`(now - created).days > N`), so with
    85 a key 85 days and 23 hours old is not due, one 86 days old is. The same for the tags."""
    return created + timedelta(days=rotate_after_days + 1)


def decide(
    user: IamUser,
    scope: AccountScope,
    now: datetime,
    pending: list[PendingOld],
    delivery_prefix: str = DEFAULT_PREFIX,
) -> Decision:
    values, duplicates = t.ikr_tags(user.tags)
    read = read_user_tags(values, scope.rotate_after, scope.delete_after, delivery_prefix)
    problems = tuple(problem.of_user(scope.account.id, user.name) for problem in (*duplicates, *read.problems))
    base = Decision(
        user=user.name,
        action=Action.SKIP,
        reason="",
        email=read.email,
        rotate_after=read.rotate_after,
        delete_after=read.delete_after,
        instructions=read.instructions,
        delivery=read.delivery,
        verify_use=read.verify_use,
        problems=problems,
        warnings=read.warnings,
        bad_input=bool(problems or read.warnings),
        remind_before=read.remind_before,
        exemption=read.exemption,
    )
    if problems:
        return base.model_copy(update={"reason": "; ".join(str(problem) for problem in problems)})
    by_keys = _by_keys(user, now, pending, read.rotate_after)
    if read.exemption is not None and read.exemption.active(now) and by_keys["action"] in _EXEMPTABLE:
        # Only a rotation (or its reminder) waits: an old key already rotated still goes on time.
        by_keys.update(action=Action.SKIP, exempt=True, reason=f"{read.exemption.describe()}; {by_keys['reason']}")
    return base.model_copy(update=by_keys)


_EXEMPTABLE = (Action.ROTATE, Action.NOT_DUE)


def _by_keys(user: IamUser, now: datetime, pending: list[PendingOld], rotate_after: Days) -> dict[str, object]:
    keys = sorted(user.keys, key=lambda key: key.created)
    pending_by_id = {item.key_id: item for item in pending}
    waiting = [key for key in keys if key.key_id in pending_by_id]
    if waiting:
        old = pending_by_id[waiting[0].key_id]
        if old.gave_up:
            reason = (
                f"rotated; deleting old key {old.key_id} failed too often and was given up: "
                "see its `failed` expiry item (README, Operations)"
            )
        elif old.unrecorded:
            reason = (
                f"key {old.key_id} appeared during an interrupted rotation and ikr never recorded it: made inactive, "
                f"deleted at {old.expires_at:%Y-%m-%d %H:%M} UTC unless re-activated; then the user is rotated as usual"
            )
        else:
            reason = f"rotated; old key {old.key_id} is due for deletion at {old.expires_at:%Y-%m-%d %H:%M} UTC"
        return {"action": Action.PENDING, "key": waiting[0], "reason": reason}
    if not keys:
        return {"action": Action.SKIP, "reason": "has no access key to rotate"}
    if len(keys) > 1:
        return {
            "action": Action.SKIP,
            "reason": "has two access keys; ikr rotates a user with exactly one (delete the unused one)",
        }
    key = keys[0]
    if key.status is not KeyStatus.ACTIVE:
        return {
            "action": Action.SKIP,
            "key": key,
            "reason": f"its only key {key.key_id} is inactive; no new active key is made",
        }
    due_at = rotation_due(key.created, rotate_after.days)
    age = (now - key.created).days
    if now >= due_at:
        return {
            "action": Action.ROTATE,
            "key": key,
            "due_at": due_at,
            "reason": f"key {key.key_id} is {age} days old; rotate after {rotate_after.days} days "
            f"({rotate_after.source})",
        }
    return {
        "action": Action.NOT_DUE,
        "key": key,
        "due_at": due_at,
        "reason": f"key {key.key_id} is {age} days old; due {due_at:%Y-%m-%d}",
    }
