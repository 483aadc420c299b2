"""Debian's Chromium driven by Playwright, for the HTML report: shared by the browser test and the
README screenshot. Never `playwright install`: the browser is /usr/bin/chromium (`make test`
installs it when missing)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("IKR_CHROMIUM", "/usr/bin/chromium"))
# Headless, and quiet on a machine with no way out: no background fetches, updates or sync.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserMissing(RuntimeError):
    pass


def require_chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        raise BrowserMissing(
            f"{CHROMIUM} is missing: the HTML report test needs Debian's chromium. `make test` installs it; by hand: "
            "`apt-get install -y --no-install-recommends chromium` as root (or set IKR_CHROMIUM to another Chromium)"
        )
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = require_chromium()
    # Playwright gives every launch a new, empty profile of its own (it refuses --user-data-dir).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, path: Path, width: int = 1400, height: int = 900) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(path.resolve().as_uri())
    return page


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 1100) -> Path:
    """The top of the report (tiles, chart, the table's first rows) as a PNG."""
    with chromium() as browser:
        page = open_page(browser, html, width, height)
        page.screenshot(path=str(png), full_page=False)
    return png


if __name__ == "__main__":
    # The README's picture: `python -m tests.support.browser REPORT.html docs/report.png`
    import sys

    print(screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
