"""The entry points' start-up settles the garbage collector: start-up's objects frozen, young
collections rarer; each handler and `ikr` does it when loaded."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from central.startup import OLDER_GENERATIONS, YOUNG_GENERATION, settle_garbage_collector


def test_settling_freezes_what_exists_and_raises_the_young_threshold(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(gc, "set_threshold", lambda *values: thresholds.append(values))
    frozen: list[bool] = []
    thresholds: list[tuple[int, ...]] = []
    settle_garbage_collector()
    assert frozen == [True]
    assert thresholds == [(YOUNG_GENERATION, *OLDER_GENERATIONS)]


@pytest.mark.parametrize(
    "start",
    [
        "import handlers.rotator",
        "import handlers.account_worker",
        "import handlers.destructor",
        "import handlers.reporter",
        "from central.cli import main; main(['tag-users', '/nonexistent.json'])",
    ],
)
def test_every_entry_point_settles_the_collector_at_start(start: str):
    """A fresh interpreter: a handler once imported (Lambda's init phase), `ikr` once started, has
    start-up's objects frozen and the young generation at ikr's threshold."""
    probe = f"import gc\n{start}\nprint(gc.get_freeze_count() > 0, gc.get_threshold()[0], gc.isenabled())"
    env = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "ikr-test", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["True", str(YOUNG_GENERATION), "True"]  # paused during imports only


# What a cold start must not pay for: pydantic-settings (gone: `central.settings.FromEnvironment`),
# Powertools' parser models, which its batch utility loads only when pydantic came first, and the
# HTTP clients of channels a set-up may not have (a webhook, Mailgun, CI targets: requests, PyNaCl),
# and cryptography, which the first encryption loads (central.domain.crypto).
NEVER_LOADED = (
    "pydantic_settings",
    "aws_lambda_powertools.utilities.parser",
    "requests",
    "nacl",
    "cryptography",
    "central.cistores.http",
    "central.notify.mailers.mailgun",
)
# The rotator's rarer events load their use cases when they come (central.invocations.rotator).
ROTATOR_LOADS_WHEN_ASKED = ("central.retirement.restore", "central.rotation.on_demand", "central.rotation.retry")


@pytest.mark.parametrize("handler", ["rotator", "account_worker", "destructor", "reporter"])
def test_a_handler_loads_nothing_it_does_not_use(handler: str):
    unused = NEVER_LOADED + (ROTATOR_LOADS_WHEN_ASKED if handler == "rotator" else ())
    probe = f"import sys\nimport handlers.{handler}\nprint(sorted(m for m in {unused!r} if m in sys.modules))"
    env = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "ikr-test", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"
