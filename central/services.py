"""Wiring: settings in, the collaborators every use case needs out. Built once per run or invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import boto3

from central import aws
from central.admin import AdminNotifier
from central.clock import Clock, clock_for
from central.expiry_table import ExpiryTable
from central.mailers import Mailer, build_mailer
from central.notify import Notifier, NullNotifier, build_notifier
from central.sessions import SessionBroker
from central.settings import Settings


@dataclass
class Services:
    settings: Settings
    central: boto3.Session
    broker: SessionBroker
    table: ExpiryTable
    mailer: Mailer
    clock: Clock
    notifier: Notifier = field(default_factory=NullNotifier)

    @property
    def admin(self) -> AdminNotifier:
        address = self.settings.ADMIN_EMAIL
        return AdminNotifier(self.mailer, str(address) if address else None)


def build_services(
    settings: Settings, central: boto3.Session | None = None, purpose: str = "rotate", now: datetime | None = None
) -> Services:
    aws.configure(settings)
    session = central or aws.default_session()
    return Services(
        settings=settings,
        central=session,
        broker=SessionBroker(session, settings.IKR_MEMBER_ROLE_NAME, settings.IKR_EXTERNAL_ID, purpose=purpose),
        table=ExpiryTable(aws.dynamodb(session), settings.IAM_KEY_ROTATOR_TABLE),
        mailer=build_mailer(settings, session),
        clock=clock_for(now or settings.IKR_NOW),
        notifier=build_notifier(settings, session),
    )
