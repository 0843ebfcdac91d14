"""The built book in a real browser: headless Chromium, driven over the Chrome DevTools Protocol (CDP).

The book (built once per session from a copy, see ``book_html`` in conftest.py) is served on 127.0.0.1 by
``http.server`` in a thread. Chromium opens every page and the tests fail on

(a) any console error, uncaught exception or error log entry (``Runtime.consoleAPICalled`` of type error,
    ``Runtime.exceptionThrown``, ``Log.entryAdded`` of level error; a missing local file shows up here);
(b) any request to a host other than 127.0.0.1 / localhost (``Network.requestWillBeSent``);
(c) an internal link (``href`` to a page of the book, with or without ``#anchor``) whose file or anchor id
    does not exist in the rendered page;
(d) math that MathJax did not render (no ``mjx-container`` on a page with math, or a TeX error).

(e) (issue 21) any table, code block or equation wider than its scroll container at 1280 px, or clipped math.

It also saves screenshots of the first page, the findings, a table page, a figure page, a question page with its
solutions opened and the appendix into
``book/_build/screenshots/`` (ignored by git) and into the test's ``tmp_path``.

Chromium: ``chromium`` on the PATH (``make test`` installs Debian's package when it is missing and the user
is root), or the binary named by ``$CU_CHROMIUM``. The tests skip, saying why, only when none is found.
The CDP client is ``websocket-client`` (the ``test`` extra).
"""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--remote-debugging-port=0",
    # Belt and braces for (b): no host name but the loopback ones resolves, so nothing can leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
    "--window-size=1280,900", "--hide-scrollbars", "--mute-audio",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
VIEWPORT = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
TIMEOUT = 60.0  # seconds for one CDP command or one page to load


def find_chromium() -> str | None:
    candidates = [os.environ.get("CU_CHROMIUM"), *CHROMIUM_NAMES, "/usr/bin/chromium"]
    for name in filter(None, candidates):
        if (path := shutil.which(name)) or (Path(name).is_file() and os.access(name, os.X_OK) and (path := name)):
            return path
    return None


def book_pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html")
                  if not {"_static", "_sources", "_images", "screenshots"} & set(p.relative_to(html).parts))


# --------------------------------------------------------------------------- a minimal CDP client
class CDP:
    """One websocket to the browser; pages are attached as flattened sessions (``sessionId`` on each message).

    Every event received is kept in ``events`` (in order), so a page's events are a slice of it."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from Chromium in time")
        self.ws.settimeout(remaining)
        message = json.loads(self.ws.recv())
        if "method" in message:
            self.events.append(message)
        return message

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"CDP {method} failed: {answer['error']}")
                return answer.get("result", {})

    def pump(self, seconds: float) -> None:
        """Receive (and keep) events for `seconds`."""
        import websocket

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._receive(deadline)
            except (TimeoutError, websocket.WebSocketTimeoutException):
                return

    def evaluate(self, expression: str, session: str, *, await_promise: bool = False) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 — closing a dead socket
            pass


# --------------------------------------------------------------------------- server and browser
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the book's folder without logging. The browser asks every server for /favicon.ico on its own
    (no page of the book links it; read from disk there is no server to ask): answered 204, not 404."""

    def do_GET(self):
        if self.path == "/favicon.ico" and not Path(self.translate_path(self.path)).is_file():
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 — the base class's name
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("Chromium not found (looked for $CU_CHROMIUM, " + ", ".join(CHROMIUM_NAMES)
                    + "): `make test` installs Debian's `chromium` package when run as root; or "
                    "`apt-get install -y chromium`")
    return path


@pytest.fixture(scope="module")
def site(book_html):
    """(base URL, html folder): the built book served on 127.0.0.1 by a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(QuietHandler, directory=str(book_html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", book_html
    server.shutdown()
    server.server_close()


@dataclass
class Browser:
    cdp: CDP
    session: str
    base: str
    html: Path


@pytest.fixture(scope="module")
def browser(chromium, site, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = profile.parent / "chromium.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    cdp = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not open its DevTools port (exit {proc.poll()}):\n"
                            + log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        cdp = CDP(f"ws://127.0.0.1:{port.strip()}{path.strip()}")
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable", session=session)
        cdp.send("Emulation.setDeviceMetricsOverride", VIEWPORT, session)
        base, html = site
        yield Browser(cdp, session, base, html)
    finally:
        if cdp is not None:
            try:
                cdp.send("Browser.close", timeout=10)
            except Exception:  # noqa: BLE001 — the browser may already be gone
                pass
            cdp.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture started (start_new_session)
            proc.wait(timeout=15)


# --------------------------------------------------------------------------- visiting pages
REFRESH = re.compile(r"""<meta[^>]+http-equiv=["']?refresh["']?[^>]+url=([^"'>\s]+)""", re.I)

SNAPSHOT_JS = """(() => JSON.stringify({
  href: location.href,
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
        .concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  math: document.querySelectorAll('.math, div.math, span.math').length,
  mjx: document.querySelectorAll('mjx-container').length,
  merror: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 5),
}))()"""

# Issue 21: at a 1280-px window no table, code block or equation may overflow its scroll container (the nearest
# ancestor, or itself, whose overflow-x is not visible; else the article column), and no rendered math may be wider
# than its MathJax container (clipped). Hidden elements (collapsed cells) measure 0 and pass.
OVERFLOW_JS = """(() => {
  const article = document.querySelector('.bd-article') || document.body;
  const out = [];
  const name = (el) => (el.id ? '#' + el.id : '') + ' ' + (el.textContent || '').trim().slice(0, 60);
  const container = (el) => {
    for (let c = el; c && c !== article && c !== document.body; c = c.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(c).overflowX)) { return c; }
    }
    return article;
  };
  const check = (el, kind) => {
    const c = container(el);
    if (c.scrollWidth > c.clientWidth + 1) {
      out.push(kind + ' overflows (' + c.scrollWidth + ' > ' + c.clientWidth + ' px):' + name(el));
    } else if (el.getBoundingClientRect().right > article.getBoundingClientRect().right + 1) {
      out.push(kind + ' sticks out of the column:' + name(el));
    }
  };
  article.querySelectorAll('table').forEach(t => check(t, 'table'));
  article.querySelectorAll('pre').forEach(p => check(p, 'code block'));
  article.querySelectorAll('mjx-container[display="true"]').forEach(m => {  // inline math wraps with its line
    check(m, 'math');
    const inner = m.querySelector('mjx-math');
    if (inner && inner.getBoundingClientRect().width > m.getBoundingClientRect().width + 1) {
      out.push('math clipped (' + Math.round(inner.getBoundingClientRect().width) + ' > '
               + Math.round(m.getBoundingClientRect().width) + ' px):' + name(m));
    }
  });
  return JSON.stringify(out);
})()"""

MATHJAX_READY_JS = """(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  return true;
})()"""


@dataclass
class Visit:
    page: str  # path relative to the html folder (the file opened)
    final: str  # path of the page shown (after a redirect)
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    math: int = 0
    mjx: int = 0
    merror: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def _describe_console(params: dict) -> str:
    parts = [str(a.get("value", a.get("description", a.get("type")))) for a in params.get("args", [])]
    return "console." + params.get("type", "?") + ": " + " ".join(parts)


def _is_foreign(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("data", "blob", "about", "javascript", "chrome", "devtools") \
        and (parts.hostname or "") not in LOCAL_HOSTS


def open_page(b: Browser, page: str) -> Visit:
    """Navigate to `page` (relative to the book root), wait for the load, any redirect and MathJax; collect
    what the page shows and every error or foreign request its events report."""
    expected = page
    if (m := REFRESH.search((b.html / page).read_text(encoding="utf-8", errors="replace"))):
        expected = (Path(page).parent / m.group(1)).as_posix().removeprefix("./")
    start = len(b.cdp.events)
    b.cdp.send("Page.navigate", {"url": b.base + page}, b.session)
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            state = b.cdp.evaluate("[document.readyState, location.pathname]", b.session)
        except RuntimeError:  # the context was replaced by the navigation: ask again
            state = None
        if state and state[0] == "complete" and unquote(state[1]).lstrip("/") == expected:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{page} did not finish loading (last state {state})")
        time.sleep(0.05)
    b.cdp.evaluate(MATHJAX_READY_JS, b.session, await_promise=True)
    b.cdp.pump(0.3)  # late errors (timers, lazy loads)
    snap = json.loads(b.cdp.evaluate(SNAPSHOT_JS, b.session))
    visit = Visit(page, expected, set(snap["ids"]), snap["links"], snap["math"], snap["mjx"], snap["merror"],
                  json.loads(b.cdp.evaluate(OVERFLOW_JS, b.session)))
    for event in b.cdp.events[start:]:
        if event.get("sessionId") != b.session:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            visit.errors.append(_describe_console(params))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            visit.errors.append("uncaught: " + str(details.get("exception", {}).get("description")
                                                   or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            visit.errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent" and _is_foreign(params["request"]["url"]):
            visit.foreign.append(params["request"]["url"])
        elif method == "Network.webSocketCreated" and _is_foreign(params.get("url", "")):
            visit.foreign.append(params["url"])
    return visit


@pytest.fixture(scope="module")
def visits(browser) -> dict[str, Visit]:
    """Every page of the book, opened once."""
    return {v.page: v for v in (open_page(browser, p.relative_to(browser.html).as_posix())
                                for p in book_pages(browser.html))}


# --------------------------------------------------------------------------- (a), (b)
def test_pages_log_no_errors(visits):
    problems = [f"{v.page}: {e}" for v in visits.values() for e in v.errors]
    assert not problems, "\n".join(problems)


def test_pages_request_nothing_from_other_hosts(visits):
    problems = [f"{v.page}: {url}" for v in visits.values() for url in v.foreign]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- (c)
def static_ids(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8", errors="replace")
    return set(re.findall(r"""\bid=["']([^"']+)["']""", text)) | set(re.findall(r"""<a[^>]+name=["']([^"']+)""", text))


def test_internal_links_resolve(visits, browser):
    base = urlsplit(browser.base)
    ids = {v.final: v.ids for v in visits.values()}
    problems, checked = [], 0
    for v in visits.values():
        for link in v.links:
            parts = urlsplit(link)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                continue  # mailto:, javascript:, or a citation's DOI: not a page of the book
            path = unquote(parts.path).lstrip("/")
            if path == "" or path.endswith("/"):
                path += "index.html"
            target = browser.html / path
            checked += 1
            if not target.is_file():
                problems.append(f"{v.page}: {link} -> missing file {path}")
                continue
            if parts.fragment and path.endswith(".html"):
                anchors = ids.get(path) or static_ids(target)
                if unquote(parts.fragment) not in anchors:
                    problems.append(f"{v.page}: {link} -> no id {unquote(parts.fragment)!r} in {path}")
    assert checked > 10, f"only {checked} internal links found: is the navigation there?"
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- (d)
def test_mathjax_renders_math(visits):
    with_math = {page: v for page, v in visits.items() if v.math}
    assert "intro.html" in with_math, "the introduction has math, but no .math element was found"
    problems = [f"{p}: {v.math} math elements but no mjx-container" for p, v in with_math.items() if not v.mjx]
    problems += [f"{p}: MathJax error(s) {v.merror}" for p, v in with_math.items() if v.merror]
    assert not problems, "\n".join(problems)
    assert with_math["intro.html"].mjx >= with_math["intro.html"].math


# --------------------------------------------------------------------------- (e) layout, issue 21
def test_nothing_overflows_its_column(visits):
    """No table, code block or equation wider than its scroll container at 1280 px; no clipped math."""
    problems = [f"{v.page}: {o}" for v in visits.values() for o in v.overflow]
    assert not problems, f"{len(problems)} overflow(s) on {len({p.split(':')[0] for p in problems})} page(s):\n" \
        + "\n".join(problems[:80])


# --------------------------------------------------------------------------- screenshots
def first_page(html: Path, chapter: str, preferred: str) -> str | None:
    """`chapter/preferred` if built, else the chapter's index, else its first page (relative paths)."""
    folder = html / chapter
    for name in (preferred, "index.html"):
        if (folder / name).is_file():
            return f"{chapter}/{name}"
    found = sorted(folder.glob("*.html")) if folder.is_dir() else []
    return found[0].relative_to(html).as_posix() if found else None


# Opens every collapsed solution and hint and scrolls the first solution into view (the question page's shot).
OPEN_SOLUTIONS_JS = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const buttons = [...document.querySelectorAll('.solution button.toggle-button, .hint button.toggle-button')];
  buttons.forEach(b => { if (b.closest('.toggle-hidden') || b.parentElement.classList.contains('toggle-hidden')
                              || b.getAttribute('aria-expanded') !== 'true') { b.click(); } });
  const first = document.querySelector('.solution');
  if (first) { first.scrollIntoView({block: 'center'}); }
  return buttons.length;
})()"""


@pytest.mark.parametrize("name, chapter, preferred", [
    ("index", "", "index.html"),
    ("findings", "", "findings.html"),
    ("reproduction", "reproduction", "table1.html"),
    ("figure", "reproduction", "figure2.html"),
    ("question", "questions", "q04.html"),
    ("appendix", "appendix", "index.html"),
], ids=["index", "findings", "table", "figure", "question-solution", "appendix"])
def test_screenshot(browser, tmp_path, name, chapter, preferred):
    page = first_page(browser.html, chapter, preferred) if chapter else preferred
    if page is None or not (browser.html / page).is_file():
        pytest.skip(f"no {name} screenshot: the book has no {chapter or preferred} page yet")
    visit = open_page(browser, page)
    assert not visit.errors, visit.errors
    if name == "question":
        opened = browser.cdp.evaluate(OPEN_SOLUTIONS_JS, browser.session)
        assert opened >= 2, f"{page}: no collapsed solution or hint to open"
        time.sleep(0.5)
    shot = browser.cdp.send("Page.captureScreenshot", {"format": "png"}, browser.session)
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000, f"{page}: screenshot looks empty ({len(png)} bytes)"
    for folder in (tmp_path, SCREENSHOTS):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(png)
    print(f"screenshot of {visit.final}: {SCREENSHOTS / (name + '.png')}")
