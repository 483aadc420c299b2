"""The HTML report in a real headless browser (Debian's Chromium through Playwright): it loads with no
network, shows the right counts, sorts, filters, and shows a <script> in a tag value as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from central.report.render_html import render_html
from tests.support.browser import chromium, open_page
from tests.support.report_sample import SCRIPT, sample_report

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:  # fails, naming the missing binary and how to install it, if it is absent
        yield found


@pytest.fixture
def report_page(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, list[str]]]:
    path = tmp_path / "ikr-report.html"
    path.write_text(render_html(sample_report()), encoding="utf-8")
    trouble: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("request", lambda r: trouble.append(f"request {r.url}") if r.url != path.as_uri() else None)
    page.on("dialog", lambda d: trouble.append(f"dialog {d.message}"))
    page.on("pageerror", lambda e: trouble.append(f"error {e}"))
    page.on("console", lambda m: trouble.append(f"console {m.type} {m.text}") if m.type == "error" else None)
    page.goto(path.as_uri())
    yield page, trouble
    page.close()


def users(page: Page) -> list[str]:
    """The first line of the User cell of each visible row, top to bottom."""
    cells = page.locator("#rows tbody tr:not([hidden]) td:nth-child(2)").all_inner_texts()
    return [cell.splitlines()[0] for cell in cells]


def test_it_loads_with_no_network_and_shows_the_counts(report_page: tuple[Page, list[str]]):
    page, trouble = report_page

    tiles = {
        name: page.locator(f"[data-tile={name}] .n").inner_text()
        for name in ("accounts", "managed-users", "due-now", "overdue", "failures")
    }

    assert tiles == {"accounts": "5", "managed-users": "5", "due-now": "1", "overdue": "1", "failures": "3"}
    assert page.locator("#shown").inner_text() == "9 of 9 rows"
    assert page.locator("#chart .bar").count() == 6  # every user with a key
    assert page.locator("#accounts tbody tr").count() == 5
    assert trouble == []


def test_sorting_by_key_age_and_by_account(report_page: tuple[Page, list[str]]):
    page, trouble = report_page
    keys = page.locator("#rows th[data-col=keys]")

    keys.click()
    assert keys.get_attribute("aria-sort") == "ascending"
    assert users(page)[-1] == "untagged"  # 400 days: the oldest key last
    keys.click()
    assert keys.get_attribute("aria-sort") == "descending"
    assert users(page)[:3] == ["untagged", "alice", "bob"]  # 400, 100, 100 days (a stable sort keeps alice first)

    page.locator("#rows th[data-col=account]").click()
    names = [c.splitlines()[0] for c in page.locator("#rows tbody td:first-child").all_inner_texts()]
    assert names == sorted(names)
    assert trouble == []


def test_filtering_and_user_input_shown_as_text(report_page: tuple[Page, list[str]]):
    page, trouble = report_page

    page.locator("#filter").fill("carol")
    assert users(page) == ["carol"]
    assert page.locator("#shown").inner_text() == "1 of 9 rows"
    assert SCRIPT in page.locator("#rows tbody tr:not([hidden])").inner_text()  # the tag's value, as text
    assert page.locator("script").count() == 1  # none was injected

    page.locator("#filter").fill("")
    page.locator("#kind").select_option("problem")
    assert sorted(users(page)) == ["-", "-", "carol"]  # the unreachable account, the bad IKR:ENABLED, carol
    assert trouble == []  # in particular no alert() dialog


def test_the_page_opens_from_its_file_alone(browser: Browser, tmp_path: Path):
    path = tmp_path / "r.html"
    path.write_text(render_html(sample_report()), encoding="utf-8")

    page = open_page(browser, path)

    assert page.title() == "ikr report 2027-03-01 12:00 UTC"
    page.close()
