"""What a CI delivery's messages name, and its two failures in those words (no HTTP here: a run
without CI targets loads no HTTP library)."""

from __future__ import annotations

from dataclasses import dataclass

from central.domain.errors import DeliveryError, DeliveryRefused, DeliveryUncertain


@dataclass(frozen=True)
class Target:
    """What a delivery's messages name: the account and user (`who`), the target in words, the API."""

    who: str
    where: str
    api: str  # "GitHub", "GitLab"
    secret: str  # the setting and Secrets Manager secret the token comes from
    kind: str  # "Actions secrets", "CI/CD variables"

    def refused(self, reason: str, needs_person: bool = True) -> DeliveryError:
        """Nothing was written. `needs_person`: the refusal waits for someone (a token, a repository, a
        setting) rather than minutes (the API unreachable or rate limited): the retry run leaves it."""
        kind = DeliveryRefused if needs_person else DeliveryError
        return kind(f"{self.who}: delivery refused: cannot write the new key to {self.where}: {reason}")

    def uncertain(self, reason: str) -> DeliveryUncertain:
        return DeliveryUncertain(f"{self.who}: writing the new key to {self.where}: {reason}: it may have been written")
