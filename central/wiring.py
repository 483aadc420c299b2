"""Wiring: settings in, the collaborators every use case needs out. Built once per run or invocation."""

from __future__ import annotations

import os
from datetime import datetime

import boto3

from central.aws import clients as aws
from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import SessionBroker
from central.clock import KEY_SERVICES, Clock, fixed_clock, refuse_turned_clock, system_clock
from central.collaborators import Services
from central.notify.mailers import build_mailer
from central.notify.webhook import build_notifier
from central.settings import AccessSettings, Settings


def run_clock(
    settings: AccessSettings, session: boto3.Session, now: datetime | None = None, *, changes_keys: bool = True
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


def build_services(
    settings: Settings,
    central: boto3.Session | None = None,
    purpose: str = "rotate",
    now: datetime | None = None,
    *,
    changes_keys: bool = True,
) -> Services:
    """`changes_keys`: False for a dry run or a read-only command, where a turned clock is harmless."""
    aws.configure(settings)
    session = central or aws.default_session()
    clock = run_clock(settings, session, now, changes_keys=changes_keys)  # first: refused before any AWS call
    return Services(
        settings=settings,
        central=session,
        broker=SessionBroker(session, settings.IKR_MEMBER_ROLE_NAME, settings.IKR_EXTERNAL_ID, purpose=purpose),
        table=ExpiryTable(aws.dynamodb(session), settings.IAM_KEY_ROTATOR_TABLE),
        mailer=build_mailer(settings, session),
        clock=clock,
        notifier=build_notifier(settings, session),
    )
