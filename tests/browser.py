"""A headless Chromium for tests that check a self-contained HTML page as a person's browser shows it.

``Browser`` starts Chromium and drives it through the DevTools protocol (CDP) over
``--remote-debugging-pipe``: Chromium reads JSON commands from its file descriptor 3 and writes
replies and events to its descriptor 4, each message ended by a NUL byte. A pipe rather than
``--remote-debugging-port``: no port to pick or race for, nothing listening on the machine, no
websocket client to write, and the pipe closes when Chromium dies, so a crash is seen at once.

Stdlib only, one thread, and every wait bounded by ``timeout``: a hung browser fails a test in
seconds instead of hanging CI. ::

    with Browser() as b:
        b.open(tmp_path / "page.html")
        assert b.evaluate("document.title") == "trace"
        b.click("#next")
        b.screenshot(tmp_path / "page.png", 1000, 700)
        assert b.foreign_requests() == [] and b.console_errors == []

Tests take the session's shared browser through the ``browser`` fixture in ``conftest.py``; it
skips when no Chromium is installed, and fails instead when ``SCRATCHRNN_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")  # looked up on PATH, in this order
REQUIRE_ENV = "SCRATCHRNN_REQUIRE_BROWSER"  # "1": no browser fails the browser tests instead of skipping
TIMEOUT = 10.0  # seconds that any one command or wait may take
CLOSE_TIMEOUT = 3.0  # seconds Chromium gets to exit after Browser.close (or timeout, if less), then killed
STDERR_TAIL = 2000  # characters of Chromium's stderr quoted when it dies

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's small /dev/shm would crash the renderer
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--disable-extensions",
    # no traffic of the browser's own: updates, sync, metrics, safe browsing, pings
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--metrics-recording-only",
    "--disable-default-apps",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    # no host name resolves, so a page that names a server cannot reach it even by mistake; the
    # request is still recorded in Browser.requests, where the test sees it
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


class BrowserError(RuntimeError):
    """Chromium died, timed out or refused a command."""


class JSError(BrowserError):
    """A script run by Browser.evaluate threw."""


def find_chromium() -> str | None:
    """The first of chromium, chromium-browser and google-chrome on PATH, or None."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_or_skip() -> Browser:
    """A started Browser, or a skipped test when there is no Chromium (a failed one under REQUIRE_ENV=1)."""
    executable = find_chromium()
    if executable is None:
        message = f"no browser on PATH (looked for {', '.join(NAMES)})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires one: install Debian's chromium")
        pytest.skip(message)
    return Browser(executable)


class Browser:
    """One headless Chromium with at most one open page.

    ``requests`` (every URL the page asked for, from Network.requestWillBeSent) and
    ``console_errors`` (uncaught exceptions, console.error and console.assert calls, and the
    browser's own error log lines, such as a failed load) cover the page from ``open`` on,
    including what it does after loading; each ``open`` starts a fresh page and fresh lists.
    """

    def __init__(self, executable: str | None = None, timeout: float = TIMEOUT):
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError(f"no browser on PATH (looked for {', '.join(NAMES)})")
        self.timeout = timeout
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.url: str | None = None  # the file:// URL of the open page
        self._session: str | None = None  # CDP session id of the open page
        self._next_id = 0
        self._buffer = b""
        self._events: deque[dict] = deque()  # events not yet waited for, oldest first
        self._dir = tempfile.mkdtemp(prefix="scratchrnn-browser-")
        self._stderr = open(os.path.join(self._dir, "stderr.log"), "w+b")  # a file: a full pipe would block
        child_in, self._to_chromium = os.pipe()
        self._from_chromium, child_out = os.pipe()
        profile = os.path.join(self._dir, "profile")
        # Chromium talks on fds 3 and 4, which Popen cannot place a pipe on (it keeps a passed fd at
        # its own number; preexec_fn could move it, but is unsafe in threaded processes such as xdist
        # workers). So Popen puts the pipe ends on stdin and stdout and a shell moves them to 3 and 4.
        # A session of its own lets close() kill every Chromium process, helpers included.
        script = 'exec 3<&0 4>&1 </dev/null >/dev/null "$@"'
        argv = [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", script, "sh", *argv],
                stdin=child_in,
                stdout=child_out,
                stderr=self._stderr,
                start_new_session=True,
            )
        except BaseException:
            for fd in (self._to_chromium, self._from_chromium):
                os.close(fd)
            self._stderr.close()
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)  # Chromium now holds the only write end: its exit ends our reads
        os.set_blocking(self._to_chromium, False)
        self._closed = False
        try:
            self.version = self._send("Browser.getVersion")["product"]  # also checks it started
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- pages -----------------------------------------------------------------------------------
    def open(self, path: str | os.PathLike) -> None:
        """Load the file at path in a fresh page and wait for its load event."""
        self._close_page()
        self.requests, self.console_errors = [], []
        self._events.clear()
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session = attached["sessionId"]  # flatten: the page's messages share the pipe, tagged so
        for domain in ("Page", "Runtime", "Network", "Log"):
            self._send(f"{domain}.enable", session=self._session)
        self._send("Page.setLifecycleEventsEnabled", {"enabled": True}, session=self._session)
        self.url = Path(path).resolve().as_uri()
        sent = self._send("Page.navigate", {"url": self.url}, session=self._session)
        if "errorText" in sent:
            raise BrowserError(f"could not load {self.url}: {sent['errorText']}")
        # the load of this navigation, not a late one of the blank page the target began with
        self._wait_event(
            "Page.lifecycleEvent",
            lambda p: p["name"] == "load" and p["loaderId"] == sent["loaderId"],
            f"the load event of {self.url}",
        )

    def evaluate(self, js: str):
        """The JSON value of the expression js in the page (a promise is awaited); JSError if it throws."""
        reply = self._page_send(
            "Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in reply:
            shown = js if len(js) <= 80 else js[:77] + "..."
            raise JSError(f"{shown!r} threw: {_describe_exception(reply['exceptionDetails'])}")
        return reply["result"].get("value")  # undefined has no value: None

    def click(self, selector: str) -> None:
        """A real left click at the centre of the first element matching selector, scrolled into view."""
        box = self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center", inline: "center", behavior: "instant"}});
                const r = el.getBoundingClientRect();
                return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height}};
            }})()"""
        )
        if box is None:
            raise BrowserError(f"no element matches {selector!r}")
        if box["w"] == 0 or box["h"] == 0:
            raise BrowserError(f"{selector!r} has no size ({box['w']} x {box['h']}): it cannot be clicked")
        at = {"x": box["x"], "y": box["y"]}
        self._page_send("Input.dispatchMouseEvent", {"type": "mouseMoved", **at})
        for kind in ("mousePressed", "mouseReleased"):
            press = {"type": kind, "button": "left", "clickCount": 1, **at}
            self._page_send("Input.dispatchMouseEvent", press)

    def screenshot(self, path: str | os.PathLike, width: int = 1000, height: int = 700,
                   full_page: bool = False) -> Path:
        """Write a PNG of the page in a width x height viewport (full_page: as tall as the page)."""
        self._page_send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        params: dict = {"format": "png"}
        if full_page:
            size = self._page_send("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": width, "height": max(height, round(size["height"])), "scale": 1}
            params.update(clip=clip, captureBeyondViewport=True)
        data = self._page_send("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def foreign_requests(self) -> list[str]:
        """The requested URLs but the page's own and data: or blob: ones: [] for a self-contained page."""
        return [url for url in self.requests if url != self.url and not url.startswith(("data:", "blob:"))]

    def close(self) -> None:
        """Stop Chromium (politely, then by force), and remove its profile and logs; again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._proc.returncode is None:
            try:
                self._write({"id": -1, "method": "Browser.close"})
                self._read_until_eof(time.monotonic() + min(CLOSE_TIMEOUT, self.timeout))
            except (BrowserError, OSError):
                pass
            self._kill()
        for fd in (self._to_chromium, self._from_chromium):
            os.close(fd)
        self._stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- the protocol ----------------------------------------------------------------------------
    def _close_page(self) -> None:
        if self._session is not None:
            target = self._send("Target.getTargetInfo", session=self._session)["targetInfo"]["targetId"]
            self._send("Target.closeTarget", {"targetId": target})
            self._session = None

    def _page_send(self, method: str, params: dict | None = None) -> dict:
        if self._session is None:
            raise BrowserError(f"{method} needs a page: call open(path) first")
        return self._send(method, params, session=self._session)

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline, f"the reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error'].get('message')}")
                return reply["result"]

    def _wait_event(self, method: str, match, what: str) -> dict:
        """The params of the first event of the open page named method for which match(params) holds."""
        deadline = time.monotonic() + self.timeout
        while True:
            while self._events:
                event = self._events.popleft()
                if event["method"] == method and match(event["params"]):
                    return event["params"]
            self._read(deadline, what)

    def _write(self, message: dict) -> None:
        """Send one message; the pipe does not block, so a browser that stops reading times out too."""
        data = json.dumps(message).encode() + b"\0"
        deadline = time.monotonic() + self.timeout
        while data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._to_chromium], [], left)[1]:
                raise BrowserError(f"timed out after {self.timeout:g} s sending {message['method']}")
            try:
                data = data[os.write(self._to_chromium, data):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise BrowserError(self._died(f"sending {message['method']}")) from None

    def _read(self, deadline: float, what: str) -> dict:
        """The next message from Chromium; the open page's events are recorded and queued for _wait_event."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chromium], [], [], left)[0]:
                raise BrowserError(f"timed out after {self.timeout:g} s waiting for {what}")
            chunk = os.read(self._from_chromium, 1 << 16)
            if not chunk:
                raise BrowserError(self._died(f"waiting for {what}"))
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message and message.get("sessionId") == self._session:
            self._record(message["method"], message["params"])
            self._events.append(message)
        return message

    def _read_until_eof(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if select.select([self._from_chromium], [], [], deadline - time.monotonic())[0]:
                if not os.read(self._from_chromium, 1 << 16):
                    return

    def _record(self, method: str, params: dict) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(_describe_exception(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            words = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.console_errors.append(f"console.{params['type']}: {' '.join(words)}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.console_errors.append(f"{entry['text']} ({entry.get('url', '')})")

    def _exit_status(self, wait: float) -> int | None:
        """Chromium's exit status if it exits within wait seconds, else None; it is left unreaped."""
        deadline = time.monotonic() + wait
        while True:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None:
                return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def _kill(self) -> None:
        """Kill Chromium's process group and reap it.

        The group's leader is not reaped before the kill, so the group id is still ours: the kill
        also ends any helper (renderer, crash handler) that outlived the browser process.
        """
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()

    def _died(self, doing: str) -> str:
        """What to say when Chromium has gone: its exit status and the end of its stderr."""
        status = self._exit_status(CLOSE_TIMEOUT)
        self._kill()
        self._stderr.flush()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-STDERR_TAIL:].strip()
        said = "still running" if status is None else f"exit status {status}"
        return f"Chromium closed its pipe while {doing} ({said}); its stderr ends:\n{tail}"


def _describe_exception(details: dict) -> str:
    """An uncaught exception as the console prints it: the message and stack, or else where it was thrown."""
    exception = details.get("exception", {})
    text = exception.get("description") or f"{details.get('text', '')} {exception.get('value', '')}".strip()
    url = details.get("url")
    if url and url not in text:
        text += f" ({url}:{details.get('lineNumber', 0) + 1}:{details.get('columnNumber', 0) + 1})"
    return text
