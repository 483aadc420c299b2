"""Every notice to every channel: the webhook and EventBridge each get it, and one failing channel
never keeps a notice from the others (each channel logs its own failure and never raises)."""

from __future__ import annotations

from central.notify.notice import Notice, Notifier, NullNotifier


class FanOutNotifier(Notifier):
    def __init__(self, *channels: Notifier) -> None:
        self.channels = channels

    def notify(self, notice: Notice) -> bool:
        """True when at least one channel took the notice."""
        taken = [channel.notify(notice) for channel in self.channels]  # all of them, never short-circuited
        return any(taken)


def fan_out(*channels: Notifier) -> Notifier:
    """The channels that are set; one alone is returned as it is, none is a NullNotifier."""
    live = [channel for channel in channels if not isinstance(channel, NullNotifier)]
    if not live:
        return NullNotifier()
    return live[0] if len(live) == 1 else FanOutNotifier(*live)
