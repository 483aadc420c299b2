"""Wiring: settings in, the collaborators every use case needs out.

A command builds them once for its run (`build_services`). A Lambda execution environment serves
invocation after invocation in one process, so a handler asks `warm_services`: what does not depend
on the invocation (the central account's session and clients, the session broker with its member
sessions and the one botocore loader, the expiry table) is built by the first invocation and reused
by later ones while the settings and the AWS environment stay the same; the clock, the mailer and
the notifier (which read their secrets once per run) are made for each invocation.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryTable
from central.aws.quota_notices import QuotaNotices
from central.aws.ses import TimeLeft, no_deadline
from central.aws.sessions import Session, SessionBroker
from central.cistores.stores import build_ci_stores
from central.clock import KEY_SERVICES, Clock, fixed_clock, refuse_turned_clock, system_clock
from central.collaborators import Services
from central.notify.event_bus import build_event_notifier
from central.notify.fan_out import fan_out
from central.notify.mailers import build_mailer
from central.notify.mailers.quota import QuotaGuard
from central.notify.quota_notice import tell_mail_postponed
from central.notify.webhook import build_notifier
from central.settings import AccessSettings, Settings


def run_clock(
    settings: AccessSettings, session: Session, now: datetime | None = None, *, changes_keys: bool = True
) -> Clock:
    """The clock of a command or invocation: `now` (the command's --now), else IKR_NOW, else the real
    one. A turned clock is refused (SettingsError) before any AWS call where it could change real keys:
    see `central.clock.clock_override_refusal` for the one rule."""
    instant = now if now is not None else settings.IKR_NOW
    if instant is None:
        return system_clock
    refuse_turned_clock(
        "--now" if now is not None else "IKR_NOW",
        changes_keys=changes_keys,
        allowed=settings.IKR_ALLOW_CLOCK_OVERRIDE,
        environ=os.environ,
        real_services=lambda: aws.real_aws_services(session, KEY_SERVICES),
    )
    return fixed_clock(instant)


@dataclass(frozen=True)
class Foundation:
    """What a run is built on that no invocation changes: made without a single AWS call."""

    central: Session
    broker: SessionBroker
    table: ExpiryTable

    @classmethod
    def build(cls, settings: AccessSettings, central: Session, purpose: str) -> Foundation:
        return cls(
            central=central,
            broker=SessionBroker(central, settings.IKR_MEMBER_ROLE_NAME, settings.IKR_EXTERNAL_ID, purpose=purpose),
            table=ExpiryTable(aws.dynamodb(central), settings.IAM_KEY_ROTATOR_TABLE),
        )


def _services(
    settings: Settings, base: Foundation, now: datetime | None, changes_keys: bool, time_left: TimeLeft = no_deadline
) -> Services:
    clock = run_clock(settings, base.central, now, changes_keys=changes_keys)  # first: refused before any AWS call
    # One guard per run or invocation: a used-up daily mail quota postpones the rest of its mail.
    mailer = QuotaGuard(build_mailer(settings, base.central, time_left))
    services = Services(
        settings=settings,
        central=base.central,
        broker=base.broker,
        table=base.table,
        mailer=mailer,
        clock=clock,
        # Every notice to the webhook (when set) and to EventBridge (unless EVENT_BUS=off).
        notifier=fan_out(build_notifier(settings, base.central), build_event_notifier(settings, base.central, clock)),
        ci=build_ci_stores(settings, base.central),  # tokens read at the first CI delivery, once per run
    )
    notices = QuotaNotices(aws.dynamodb(base.central), base.table.name)  # one notice between a fan-out's workers
    mailer.on_exhausted = lambda reason: tell_mail_postponed(
        services.admin, services.notifier, reason, claim=lambda: notices.claim(services.clock())
    )
    return services


def build_services(
    settings: Settings,
    central: Session | None = None,
    purpose: str = "rotate",
    now: datetime | None = None,
    *,
    changes_keys: bool = True,
) -> Services:
    """A run's services, all new. `changes_keys`: False for a dry run or a read-only command, where a
    turned clock is harmless."""
    aws.configure(settings)
    return _services(settings, Foundation.build(settings, central or aws.default_session(), purpose), now, changes_keys)


def _environment_key(settings: Settings) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    """What the foundation depends on: every setting but the clock's (IKR_NOW is read per invocation),
    and the environment botocore reads (credentials, region, endpoints, profile: every AWS_ variable)."""
    aws_environment = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_")))
    return settings.model_dump(exclude={"IKR_NOW"}), aws_environment


class _ExecutionEnvironment:
    """The foundations this process has built, one per purpose (each Lambda function has one; the
    tests call every handler in one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[tuple[dict[str, Any], tuple[tuple[str, str], ...]], Foundation]] = {}

    def services(
        self, settings: Settings, purpose: str, changes_keys: bool, time_left: TimeLeft = no_deadline
    ) -> Services:
        aws.configure(settings)
        key = _environment_key(settings)
        with self._lock:
            kept = self._kept.get(purpose)
            if kept is None or kept[0] != key:
                kept = self._kept[purpose] = (key, Foundation.build(settings, aws.default_session(), purpose))
        return _services(settings, kept[1], None, changes_keys, time_left)

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()


_environment = _ExecutionEnvironment()


def warm_services(
    settings: Settings, purpose: str, *, changes_keys: bool = True, time_left: TimeLeft = no_deadline
) -> Services:
    """An invocation's services on the foundation the execution environment already built, or a new
    one when none is kept for `purpose` or the settings or AWS environment changed since. `time_left`:
    the seconds the invocation has left (`lambda_time_left(context)`), which bounds SES's retries."""
    return _environment.services(settings, purpose, changes_keys, time_left)


def lambda_time_left(context: Any) -> TimeLeft:
    """The seconds a Lambda invocation has left, read from its context at each call."""
    return lambda: context.get_remaining_time_in_millis() / 1000


def forget_warm_services() -> None:
    """Drop every kept foundation: the next invocation builds afresh (tests, whose emulators reset)."""
    _environment.forget()
