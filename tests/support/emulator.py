"""A fresh in-process emulator is a fresh Lambda environment too."""

from __future__ import annotations

from moto.core.base_backend import BackendDict

from central.wiring import forget_warm_services


def reset_emulator() -> None:
    """Empty moto, and forget the handlers' warm sessions and clients: they were built on accounts,
    credentials and tables that no longer exist (a sweep resets moto between its points, within one
    test, so the per-test reset in tests/conftest.py is not enough)."""
    BackendDict.reset()
    forget_warm_services()
