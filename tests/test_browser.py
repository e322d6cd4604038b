"""tests/browser.py, the headless-Chromium harness: values from evaluate, a real click, the requests
and console errors it records (so a page's no-network and no-error checks can fail), screenshots,
fresh pages, and the errors and timeouts that keep a broken browser from hanging the suite."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import pytest

from browser import REQUIRE_ENV, Browser, BrowserError, JSError, browser_or_skip


def page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(f"<!doctype html><meta charset='utf-8'><title>t</title>\n{body}\n", encoding="utf-8")
    return path


def unused_port() -> int:
    """A loopback port nothing listens on (bound and released), so a fetch from it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_evaluate_returns_json_values(browser, tmp_path):
    browser.open(page(tmp_path, "<script>window.answer = {n: 42, words: ['a', 'b'], none: null};</script>"))
    assert browser.evaluate("document.title") == "t"
    assert browser.evaluate("window.answer") == {"n": 42, "words": ["a", "b"], "none": None}
    assert browser.evaluate("1.5 * 2") == 3
    assert browser.evaluate("undefined") is None
    assert browser.evaluate("new Promise(r => setTimeout(() => r('later'), 10))") == "later"


def test_evaluate_raises_the_exception_text(browser, tmp_path):
    browser.open(page(tmp_path, ""))
    with pytest.raises(JSError, match="Error: boom"):
        browser.evaluate("throw new Error('boom')")
    with pytest.raises(JSError, match="nope is not defined"):
        browser.evaluate("nope.x")
    with pytest.raises(JSError, match="rejected"):
        browser.evaluate("Promise.reject(new Error('rejected'))")
    assert browser.console_errors == []  # what evaluate throws is its caller's, not the page's


def test_click_is_a_real_click_on_an_element_out_of_view(browser, tmp_path):
    browser.open(page(tmp_path, """
        <div style="height: 3000px"></div>
        <button id="go">go</button><p id="out"></p>
        <script>
          document.getElementById("go").addEventListener("click", event => {
            document.getElementById("out").textContent = `clicked ${event.isTrusted}`;
          });
        </script>"""))
    browser.click("#go")
    assert browser.evaluate("document.getElementById('out').textContent") == "clicked true"
    with pytest.raises(BrowserError, match="no element matches '#missing'"):
        browser.click("#missing")


def test_requests_record_a_fetch_so_the_no_network_check_can_fail(browser, tmp_path):
    url = f"http://127.0.0.1:{unused_port()}/x"
    browser.open(page(tmp_path, f"<script>window.fetched = fetch('{url}').then(() => 'ok', () => 'failed');"
                                "</script>"))
    assert browser.evaluate("window.fetched") == "failed"
    assert browser.requests == [browser.url, url]
    assert browser.foreign_requests() == [url]


def test_a_self_contained_page_requests_only_itself(browser, tmp_path):
    pixel = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    browser.open(page(tmp_path, f"<img src='{pixel}'><style>p {{ color: red }}</style><p>hi</p>"))
    assert browser.requests[0] == browser.url == (tmp_path / "page.html").resolve().as_uri()
    assert browser.foreign_requests() == []
    assert browser.console_errors == []


def test_console_errors_record_uncaught_exceptions_and_console_error(browser, tmp_path):
    browser.open(page(tmp_path, """<script>
        console.error("bad", 3);
        console.log("fine");
        setTimeout(() => { throw new TypeError("late"); }, 0);
        </script>"""))
    browser.evaluate("new Promise(r => setTimeout(r, 0))")  # after the page's timer has thrown
    assert browser.console_errors[0] == "console.error: bad 3"
    assert browser.console_errors[1].startswith("TypeError: late")
    assert len(browser.console_errors) == 2


def test_screenshot_is_a_png_of_the_requested_size(browser, tmp_path):
    browser.open(page(tmp_path, "<body style='margin: 0'><div style='height: 1500px; background: teal'>"))
    shot = browser.screenshot(tmp_path / "view.png", 320, 240)
    assert shot == tmp_path / "view.png"
    assert png_size(shot) == (320, 240)
    assert png_size(browser.screenshot(tmp_path / "full.png", 320, 240, full_page=True)) == (320, 1500)


def test_open_starts_a_fresh_page(browser, tmp_path):
    browser.open(page(tmp_path, "<script>window.left = 1; console.error('first');</script>", "first.html"))
    second = page(tmp_path, "", "second.html")
    browser.open(second)
    assert browser.url == second.resolve().as_uri()
    assert browser.requests == [browser.url] and browser.console_errors == []
    assert browser.evaluate("typeof window.left") == "undefined"


def test_open_of_a_missing_file_fails(browser, tmp_path):
    with pytest.raises(BrowserError, match="could not load .*missing.html: net::ERR_FILE_NOT_FOUND"):
        browser.open(tmp_path / "missing.html")


def test_a_hung_script_times_out_and_the_browser_goes_on(browser, tmp_path, monkeypatch):
    browser.open(page(tmp_path, ""))
    monkeypatch.setattr(browser, "timeout", 0.5)
    start = time.monotonic()
    with pytest.raises(BrowserError, match="timed out after 0.5 s waiting for the reply to Runtime.evaluate"):
        browser.evaluate("new Promise(() => {})")
    assert time.monotonic() - start < 2
    assert browser.evaluate("6 * 7") == 42


def fake_chromium(tmp_path: Path, script: str) -> str:
    path = tmp_path / "chromium"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


def test_a_browser_that_exits_early_is_reported_with_its_stderr(tmp_path):
    fake = fake_chromium(tmp_path, "echo 'cannot open display' >&2; exit 3")
    with pytest.raises(BrowserError, match=r"(?s)exit status 3\).*cannot open display"):
        Browser(fake)


def test_a_browser_that_never_answers_times_out_and_is_killed(tmp_path):
    fake = fake_chromium(tmp_path, f"echo $$ > {tmp_path / 'pid'}; exec sleep 60")
    start = time.monotonic()
    hung = "timed out after 0.5 s waiting for the reply to Browser.getVersion"
    with pytest.raises(BrowserError, match=hung):
        Browser(fake, timeout=0.5)
    assert time.monotonic() - start < 3
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left running


def test_no_browser_skips_the_test_unless_one_is_required(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser on PATH"):
        browser_or_skip()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV}=1 requires one"):
        browser_or_skip()
