"""A notifier that keeps what it is handed: the notices a test expects to be sent, in order."""

from __future__ import annotations

from central.notify.notice import Event, Notice, Notifier


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def notify(self, notice: Notice) -> bool:
        self.notices.append(notice)
        return True

    def of(self, event: Event) -> list[Notice]:
        return [notice for notice in self.notices if notice.event is event]
