"""A notifier that keeps what it is handed: the notices a test expects to be sent, in order."""

from __future__ import annotations

from central.notify.notice import Event, Notice, Notifier


class RecordingNotifier(Notifier):
    """`answer`: what `notify` says (False: as a channel whose delivery failed, after keeping it)."""

    def __init__(self, answer: bool = True) -> None:
        self.notices: list[Notice] = []
        self.answer = answer

    def notify(self, notice: Notice) -> bool:
        self.notices.append(notice)
        return self.answer

    def of(self, event: Event) -> list[Notice]:
        return [notice for notice in self.notices if notice.event is event]
