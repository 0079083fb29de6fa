"""Headless Chromium (Debian's, `make chromium`) driven by playwright, for the HTML reports.

The browser runs with a fresh profile and with everything that would reach out on its own turned
off (this machine has no network but the package registries, and Chromium's own connections are
refused). Each page load records every request, console message and page error, so a test can
say the page made no request but its own file and logged nothing wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Seen:
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]


def chromium_or_fail() -> None:
    if shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` (which `make test` runs) installs it")


@contextmanager
def browser(profile: Path, javascript: bool = True) -> Iterator[BrowserContext]:
    """A persistent context on a fresh profile folder; yields the playwright BrowserContext."""
    chromium_or_fail()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            java_script_enabled=javascript,
        )
        try:
            yield context
        finally:
            context.close()


def open_page(context: BrowserContext, path: Path) -> tuple[Page, Seen]:
    """`path` opened from disk, with what it asked for and said recorded from the start."""
    seen = Seen()
    page = context.new_page()
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda message: seen.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, seen
