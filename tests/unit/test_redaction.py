"""central.domain.redaction: the run's secrets, scrubbed from outside text and from the ikr log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from central.domain import redaction
from central.domain.errors import AccountError, DeliveryError, SecretStoreError, aws_reason
from central.domain.redaction import forget_all, remember, scrub

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_all()
    yield
    forget_all()


def test_every_remembered_secret_is_replaced_wherever_it_appears():
    remember(SECRET)
    remember("hunter2-password")

    text = f"554 rejected: {SECRET} and again {SECRET}; login hunter2-password refused"

    assert scrub(text) == "554 rejected: *** and again ***; login *** refused"


def test_short_strings_are_not_kept_and_text_without_secrets_is_unchanged():
    remember("short")
    remember("")

    assert scrub("a short text") == "a short text"
    assert scrub("") == ""


def test_the_longest_of_overlapping_secrets_wins():
    remember("AKIA1234")
    remember("AKIA1234EXTENDEDSECRET")

    assert scrub("x AKIA1234EXTENDEDSECRET y AKIA1234 z") == "x *** y *** z"


def test_remembering_from_many_threads_keeps_every_secret():
    secrets = [f"secret-{n:04d}-padding" for n in range(400)]

    def keep(chunk: list[str]) -> None:
        for secret in chunk:
            remember(secret)

    threads = [threading.Thread(target=keep, args=(secrets[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert scrub(" ".join(secrets)) == " ".join(["***"] * len(secrets))


def test_ikr_errors_and_aws_reasons_are_scrubbed_when_made():
    remember(SECRET)

    class Echo(Exception):
        def __init__(self) -> None:
            super().__init__("echo")
            self.response = {"Error": {"Code": "ValidationException", "Message": f"value {SECRET} is invalid"}}

    assert SECRET not in str(DeliveryError(f"relay said: {SECRET}"))
    assert SECRET not in str(SecretStoreError(f"cannot write {SECRET}"))
    assert SECRET not in str(AccountError("111122223333", f"boom {SECRET}"))
    assert aws_reason(Echo()) == "ValidationException: value *** is invalid"


def test_the_ikr_log_is_scrubbed_message_fields_and_exception(caplog: pytest.LogCaptureFixture):
    remember(SECRET)
    logger = logging.getLogger("ikr")
    caplog.set_level(logging.INFO, logger="ikr")

    try:
        raise ValueError(f"library said {SECRET}")
    except ValueError:
        logger.exception("failed with %s", SECRET, extra={"reason": SECRET, "lines": [f"x {SECRET}"]})

    (record,) = caplog.records
    assert record.getMessage() == "failed with ***"
    assert record.__dict__["reason"] == "***"
    assert record.__dict__["lines"] == ["x ***"]
    assert SECRET not in record.__dict__["exception"]
    assert "library said ***" in record.__dict__["exception"]
    assert record.exc_info is None


def test_the_filter_is_on_the_powertools_logger():
    from aws_lambda_powertools import Logger

    Logger(service="ikr")

    assert redaction.FILTER in logging.getLogger("ikr").filters
