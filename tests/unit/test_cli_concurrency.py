"""`ikr rotate --concurrency N` takes a whole number from 1 to 256; anything else is a usage error."""

from __future__ import annotations

import pytest

from central.cli.main import main, parser

pytestmark = pytest.mark.usefixtures("ikr_logging_restored")


@pytest.mark.parametrize("value", ["0", "257", "many", "-1", "2.5"])
def test_a_concurrency_that_is_not_1_to_256_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stopped:
        main(["rotate", "--concurrency", value])

    assert stopped.value.code == 2
    assert "--concurrency" in capsys.readouterr().err


def test_the_concurrency_is_read_and_left_to_the_setting_when_absent():
    assert parser().parse_args(["rotate", "--concurrency", "4"]).concurrency == 4
    assert parser().parse_args(["rotate", "--concurrency", "256"]).concurrency == 256
    assert parser().parse_args(["rotate"]).concurrency is None
