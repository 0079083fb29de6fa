"""The HTML reports, made by the commands against real servers and opened in headless Chromium.

The page must open from disk with no request but its own file and no console error, show the
failing rule and the sequence diagram of the failing exchange, filter its rule table (and show
every row with scripts off), and quote a hostile server's markup as text. A screenshot of each is
saved in the test's tmp folder; with JSONCHAT_REPORT_SCREENSHOT set it is copied there too, for
a person to look at.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from conformance.kit.page import data_script
from conformance.suite.html import expected_and_got
from tests.conformance.suiterun import broken, jsonchat
from tests.report.browser import browser, chromium_or_fail, open_page

HOSTILE = f"cmd:{sys.executable} -m tests.report.hostile {{host}} {{port}}"


def conformance_html(target: str, tmp: Path, *args: str) -> tuple[Path, str]:
    page = tmp / "report.html"
    done = jsonchat(
        "conformance", target, "--html", str(page), "--transcripts", str(tmp / "tr"), *args
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "\r" not in done.stdout and "\x1b" not in done.stdout  # piped: no live line
    return page, page.read_text("utf-8")


def keep(screenshot: Path) -> None:
    wanted = os.environ.get("JSONCHAT_REPORT_SCREENSHOT")
    if wanted:
        shutil.copy(screenshot, wanted)


def test_the_report_of_a_broken_server_shows_its_rule_and_the_failing_exchange(
    tmp_path: Path,
) -> None:
    chromium_or_fail()
    path, html = conformance_html(broken("spoof"), tmp_path, "--select", "ROUTE-13,ROUTE-1")
    assert "ROUTE-13" in html and "<svg" in html and "jsonchat replay " in html
    with browser(tmp_path / "profile") as context:
        page, seen = open_page(context, path)
        failure = page.locator("section.failure").filter(has_text="ROUTE-13")
        assert failure.count() == 1 and failure.is_visible()
        assert "User name mismatch" in failure.inner_text()
        diagram = failure.locator("svg.sequence")
        assert diagram.is_visible() and diagram.bounding_box() is not None
        assert "i am bob" in (diagram.text_content() or "")  # the spoofed message, on an arrow
        assert failure.locator("svg.sequence .sq-failure").is_visible()  # the failing point
        row = page.locator("#rules tr[data-id='ROUTE-13']")
        assert row.is_visible() and "FAIL" in row.inner_text()
        link = row.locator("a")
        assert link.get_attribute("href") == f"#{failure.get_attribute('id')}"
        # The filters: passes hidden, the failure still shown; then one section only.
        page.locator("#filters input[value='pass']").uncheck()
        assert page.locator("#rules tr[data-id='ROUTE-1']").is_hidden()
        assert row.is_visible()
        page.locator("#filters input[value='pass']").check()
        sections = page.locator("#section option").all_inner_texts()
        other = next(name for name in sections if name not in ("all", "ROUTE"))
        page.locator("#section").select_option(other)
        assert row.is_hidden()
        page.locator("#section").select_option("")
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
        keep(screenshot)
        assert seen.requests == [path.resolve().as_uri()], seen.requests
        assert not seen.console_errors and not seen.errors, (seen.console, seen.errors)


def test_with_scripts_off_every_rule_shows(tmp_path: Path) -> None:
    chromium_or_fail()
    path, _ = conformance_html(broken("spoof"), tmp_path, "--select", "ROUTE-13,ROUTE-1")
    with browser(tmp_path / "profile", javascript=False) as context:
        page, _ = open_page(context, path)
        rows = page.locator("#rules tr")
        assert rows.count() >= 2
        assert all(rows.nth(i).is_visible() for i in range(rows.count()))
        assert page.locator("#filters").is_hidden()  # controls that could not work
        assert page.locator("svg.sequence").first.is_visible()


def test_a_hostile_server_cannot_inject_into_the_page(tmp_path: Path) -> None:
    chromium_or_fail()
    path, html = conformance_html(HOSTILE, tmp_path, "--select", "CONNECT-1")
    assert "<img" not in html and "<svg onload" not in html and 'onerror="document' not in html
    assert "&lt;/script&gt;&lt;img src=x onerror=" in html  # it is there, as text
    with browser(tmp_path / "profile") as context:
        page, seen = open_page(context, path)
        assert page.title().startswith("jsonchat conformance")  # no injected script ran
        assert page.locator("img").count() == 0
        assert page.locator("script").count() == 2  # the page's data and its own script
        diagrams = page.locator("svg.sequence").all()
        assert any("onerror" in (d.text_content() or "") for d in diagrams)
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        assert seen.requests == [path.resolve().as_uri()], seen.requests
        assert not seen.console_errors and not seen.errors, (seen.console, seen.errors)


def test_the_fuzz_report_of_a_finding(tmp_path: Path) -> None:
    chromium_or_fail()
    page_path = tmp_path / "fuzz.html"
    done = jsonchat(
        "fuzz",
        broken("spoof"),
        "--seconds",
        "20",
        "--shrink-seconds",
        "5",
        "--transcripts",
        str(tmp_path / "tr"),
        "--html",
        str(page_path),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "\r" not in done.stderr  # piped: a plain line a batch, as before
    with browser(tmp_path / "profile") as context:
        page, seen = open_page(context, page_path)
        finding = page.locator("section.failure")
        assert finding.is_visible() and "ROUTE-13" in finding.inner_text()
        assert finding.locator("svg.sequence").is_visible()
        assert "jsonchat replay " in finding.inner_text()
        page.screenshot(path=str(tmp_path / "fuzz.png"), full_page=True)
        assert seen.requests == [page_path.resolve().as_uri()], seen.requests
        assert not seen.console_errors and not seen.errors, (seen.console, seen.errors)


def test_a_crashing_server_shows_its_traceback_and_folds_the_repeats(tmp_path: Path) -> None:
    course = broken("course").replace("{port}", "{port} --fault crash-on-hangup")
    _, html = conformance_html(course, tmp_path, "--profile", "core", "--select", "DISCONNECT")
    assert "KeyError" in html and "what the server printed last" in html
    assert "crashes," in html and "restarts" in html
    # The traceback in full twice at most, as in the text report; every later one folded.
    full = html.count('<div class="label">what the server printed last</div>')
    folded = html.count("(folded: as above, most likely)")
    assert 1 <= full <= 2 and (folded > 0) == (full + folded > 2), (full, folded)


@pytest.mark.parametrize(
    ("reason", "parsed"),
    [
        (
            "@a-1: nothing within 0.30 s; expected error 'User name mismatch'",
            ("@a-1", "error 'User name mismatch'", "nothing within 0.30 s"),
        ),
        ("@b: expected chat, got {'status': 'error'}", ("@b", "chat", "{'status': 'error'}")),
        ("@c: closed after 3 ms; expected a welcome", ("@c", "a welcome", "closed after 3 ms")),
        ("the target died during this case: it ended (exit 1)", None),
    ],
)
def test_expected_and_what_came_instead_are_read_from_the_reason(
    reason: str, parsed: tuple[str, str, str] | None
) -> None:
    assert expected_and_got(reason) == parsed


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", "a & b <!-- c"])
def test_the_embedded_data_cannot_close_its_element(text: str) -> None:
    block = data_script("d", {"id": text})
    inner = block.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in inner and ">" not in inner and "&" not in inner
