"""What a use case is handed: the settings, the clock, the central account's AWS session, the
broker into member accounts, the expiry table, the mailer and the notifier. `central.wiring` builds
one per run or invocation (a Lambda's on the session, broker and table kept for its execution
environment; the clock, mailer and notifier always its own); use cases take it and never build
their own."""

from __future__ import annotations

from dataclasses import dataclass, field

from central.aws.expiry_table import ExpiryTable
from central.aws.sessions import Session, SessionBroker
from central.cistores.stores import CiStores
from central.clock import Clock
from central.notify.admin import AdminNotifier
from central.notify.mailers import Mailer
from central.notify.notice import Notifier, NullNotifier
from central.settings import Settings


@dataclass
class Services:
    settings: Settings
    central: Session
    broker: SessionBroker
    table: ExpiryTable
    mailer: Mailer
    clock: Clock
    notifier: Notifier = field(default_factory=NullNotifier)
    ci: CiStores = field(default_factory=CiStores)  # github:/gitlab: delivery targets

    @property
    def admin(self) -> AdminNotifier:
        address = self.settings.ADMIN_EMAIL
        return AdminNotifier(self.mailer, str(address) if address else None)
