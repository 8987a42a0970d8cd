"""GraphiQL from the gateway itself: every asset it loads is served by the gateway, the
README's example is prefilled in sandbox mode and nothing outside it, and headless Chromium
(Debian's package; `make test` installs it), offline, runs the example and shows the data."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from citizen_graph.graphiql import example
from citizen_graph.graphiql.assets import VENDOR
from citizen_graph.serving import ThreadedServer
from tests.clients_files import minted, one_client, serving_clients
from tests.conftest import GatewayClient

README = Path(__file__).parents[2] / "README.md"
HTML = {"Accept": "text/html"}
KEY = "graphiql-portal-key"
# The probe that works on a root CI machine, plus no name resolution but loopback's: the
# test is offline whatever the machine's network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
)
# GraphiQL's editors are CodeMirror 5 instances, which keep their editor on the element.
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESPONSE = "document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue()"
TOOL_EDITORS = "document.querySelectorAll('.graphiql-editor-tool .CodeMirror')"
VARIABLES_EDITOR, HEADERS_EDITOR = (f"{TOOL_EDITORS}[{n}].CodeMirror" for n in (0, 1))
STORED = "JSON.stringify(Object.entries(localStorage))"
SETTINGS = "Open settings dialog"
RUN = "document.querySelector('.graphiql-execute-button').click()"
# Recorded from the first script on: any refusal by the page's Content-Security-Policy.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) =>
  window.__violations.push(event.violatedDirective + ' ' + event.blockedURI));
"""


class Links(HTMLParser):
    """Every URL an HTML document refers to (src, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v is not None]


def page_settings(html: str) -> dict[str, Any]:
    block = re.search(
        r'<script type="application/json" id="graphiql-settings">(.*?)</script>',
        html,
        re.S,
    )
    assert block is not None
    settings: dict[str, Any] = json.loads(block.group(1))
    return settings


def test_every_asset_the_page_loads_is_served_by_the_gateway(
    gateway: GatewayClient,
) -> None:
    page = gateway.http.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert not re.search(r"https?://", page.text), "the page names another host"
    links = Links()
    links.feed(page.text)
    assets = [url for url in links.urls if not url.startswith("data:")]
    # React, ReactDOM, GraphiQL's script and style sheet, the page's script and style sheet
    assert len(assets) == 6
    for url in assets:
        assert url.startswith("/graphiql/"), url
        answer = gateway.http.get(url)
        assert answer.status_code == 200, url
        kind = "text/css" if url.split("?")[0].endswith(".css") else "text/javascript"
        assert answer.headers["content-type"] == f"{kind}; charset=utf-8"
        assert "immutable" in answer.headers["cache-control"]
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_page_may_load_and_call_nothing_but_the_gateway(
    gateway: GatewayClient,
) -> None:
    page = gateway.http.get("/graphql", headers=HTML)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script at all
    assert policy["connect-src"] == "'self'"
    nonce = page_settings(page.text)["styleNonce"]
    assert policy["style-src"] == f"'self' 'nonce-{nonce}'"
    again = gateway.http.get("/graphql", headers=HTML)
    assert page_settings(again.text)["styleNonce"] != nonce
    assert page.headers["cache-control"] == "no-store"


def test_only_the_vendored_files_and_the_pages_own_are_served(
    gateway: GatewayClient,
) -> None:
    assert gateway.http.get("/graphiql/graphiql-4.1.2.LICENSE.txt").status_code == 200
    for path in (
        "/graphiql/manifest.json",
        "/graphiql/vendor%2Fmanifest.json",
        "/graphiql/..%2F..%2F__init__.py",
        "/graphiql/%2e%2e%2fpage.py",
        "/graphiql/../app.py",
        "/graphiql/page.html",
        "/graphiql/",
    ):
        assert gateway.http.get(path).status_code == 404, path
    refused = gateway.http.post("/graphiql/graphiql-page.js")
    assert refused.status_code == 405


def test_the_vendored_files_are_those_of_the_manifest() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    versions = {p["name"]: p["version"] for p in manifest["packages"]}
    assert versions["react"] == versions["react-dom"]
    assert versions["react"].startswith("18.")  # GraphiQL's UMD build needs React 18
    for name, entry in manifest["files"].items():
        body = (VENDOR / name).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], name
        assert len(body) == entry["bytes"], name
    licences = {entry["package"] for entry in manifest["files"].values()}
    assert {p["name"] for p in manifest["packages"]} == licences
    assert all(
        any(
            f["package"] == package and f["path"] == "LICENSE"
            for f in manifest["files"].values()
        )
        for package in licences
    )


def test_sandbox_mode_prefills_the_readme_example_and_the_demo_headers(
    gateway: GatewayClient,
) -> None:
    settings = page_settings(gateway.http.get("/graphql", headers=HTML).text)
    prefilled = settings["prefilled"]
    assert prefilled["query"] == example.QUERY
    assert json.loads(prefilled["variables"]) == example.VARIABLES
    headers = json.loads(prefilled["headers"])
    assert headers["Authorization"] == "Bearer demo-social-services"
    assert headers["X-Purpose"]
    assert settings["persistHeaders"] is True


def test_the_readme_shows_the_prefilled_example() -> None:
    section = (
        README.read_text().split("## Try it in GraphiQL", 1)[1].split("\n## ", 1)[0]
    )
    assert f"```graphql\n{example.QUERY}```" in section
    variables = re.search(r"`(\{\"identity\".*?\})`", section)
    assert variables is not None
    assert json.loads(variables.group(1)) == example.VARIABLES
    assert json.dumps(example.HEADERS, ensure_ascii=False) in section


@pytest.fixture
def configured(
    sandbox: httpx.Client, sandbox_server: ThreadedServer, tmp_path: Path
) -> Iterator[GatewayClient]:
    """A gateway outside sandbox mode, with one client (KEY)."""
    clients = one_client(tmp_path, KEY, minted(sandbox), client="graphiql-portal")
    with serving_clients(sandbox_server, tmp_path, clients) as gw:
        yield gw


def test_outside_sandbox_mode_the_page_prefills_nothing(
    configured: GatewayClient,
) -> None:
    page = configured.http.get("/graphql", headers=HTML)
    settings = page_settings(page.text)
    assert settings["prefilled"] is None
    assert settings["persistHeaders"] is False
    assert "demo-" not in page.text


class DevTools:
    """Headless Chromium, driven over its DevTools protocol on a pipe: JSON messages ended
    by a NUL byte, read by the browser on its fd 3 and written on its fd 4."""

    def __init__(self, chromium: str, profile: Path, log: Path) -> None:
        commands, self.commands = os.pipe()
        self.replies, replies = os.pipe()
        # bash (dash only redirects fds 0-9) moves the two pipes to the protocol's fds, then
        # becomes Chromium.
        shell = f'exec "$0" "$@" 3<&{commands} 4>&{replies}'
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    "bash",
                    "-c",
                    shell,
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    "about:blank",
                ],
                pass_fds=(commands, replies),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        os.close(commands)
        os.close(replies)
        self.log = log
        self.pending = b""
        self.events: list[dict[str, Any]] = []
        self.last_id = 0

    def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.last_id += 1
        message: dict[str, Any] = {
            "id": self.last_id,
            "method": method,
            "params": params,
        }
        if session is not None:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self.last_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def _receive(self, timeout_s: float = 15.0) -> dict[str, Any]:
        while b"\0" not in self.pending:
            ready, _, _ = select.select([self.replies], [], [], timeout_s)
            chunk = os.read(self.replies, 1 << 16) if ready else b""
            if not chunk:
                raise AssertionError(f"Chromium stopped answering:\n{self._tail()}")
            self.pending += chunk
        message, _, self.pending = self.pending.partition(b"\0")
        received: dict[str, Any] = json.loads(message)
        return received

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def close(self) -> None:
        # Chromium may be gone before it answers.
        with contextlib.suppress(AssertionError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.commands)
        os.close(self.replies)


class Tab:
    """The browser's page, attached to (one session), recording its requests."""

    def __init__(self, tools: DevTools) -> None:
        self.tools = tools
        page = self._first_page(tools)
        attached = tools.send(
            "Target.attachToTarget", targetId=page["targetId"], flatten=True
        )
        self.session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", source=RECORD_VIOLATIONS)

    @staticmethod
    def _first_page(tools: DevTools) -> dict[str, Any]:
        """The about:blank page Chromium opens, once it has."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            targets = tools.send("Target.getTargets")["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                return pages[0]
            time.sleep(0.05)
        raise AssertionError("Chromium opened no page")

    def send(self, method: str, **params: Any) -> Any:
        return self.tools.send(method, self.session, **params)

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 10.0) -> Any:
        """The expression's value once truthy (exceptions count as not yet)."""
        deadline = time.monotonic() + timeout_s
        guarded = (
            f"(() => {{ try {{ return {expression}; }} catch {{ return null; }} }})()"
        )
        while time.monotonic() < deadline:
            value = self.evaluate(guarded)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"never true: {expression}")

    def requested(self) -> list[str]:
        return [
            event["params"]["request"]["url"]
            for event in self.tools.events
            if event.get("method") == "Network.requestWillBeSent"
        ]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "chromium is not installed: `make test` installs Debian's package "
            "(`make chromium`), or `apt-get install chromium`"
        )
    tools = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    yield tools
    tools.close()


def test_chromium_offline_runs_the_prefilled_example_and_shows_the_citizen(
    gateway: GatewayClient, browser: DevTools
) -> None:
    tab = Tab(browser)
    tab.open(f"{gateway.url}/graphql")
    tab.wait_for(f"{QUERY_EDITOR}.getValue().includes('query Alice')")
    assert "demo-social-services" in tab.evaluate(f"{HEADERS_EDITOR}.getValue()")
    tab.evaluate(RUN)
    shown = tab.wait_for(f"{RESPONSE}?.includes('birthName') && {RESPONSE}")
    result = json.loads(shown)
    assert result["data"]["citizen"]["identity"]["birthName"] == "FICTIF"
    # A dialog locks the page's scrolling with a <style> element of its own.
    tab.evaluate(f"document.querySelector('[aria-label=\"{SETTINGS}\"]').click()")
    tab.wait_for("!!document.querySelector('[role=dialog]')")
    assert tab.evaluate("window.__violations") == []
    requested = tab.requested()
    assert sum(url.startswith(f"{gateway.url}/graphiql/") for url in requested) == 6
    others = [
        url
        for url in requested
        if url.startswith(("http:", "https:", "ws:", "wss:"))
        and not url.startswith(f"{gateway.url}/")
    ]
    assert others == []


def test_chromium_outside_sandbox_mode_keeps_no_header_in_the_browser(
    configured: GatewayClient, browser: DevTools
) -> None:
    tab = Tab(browser)
    tab.open(f"{configured.url}/graphql")
    tab.wait_for(
        f"{QUERY_EDITOR}.getValue().includes('Headers tab') && !!{HEADERS_EDITOR}"
    )
    assert tab.evaluate(f"{HEADERS_EDITOR}.getValue()") == ""
    assert tab.evaluate(f"{VARIABLES_EDITOR}.getValue()") == ""
    hint = tab.evaluate(f"{QUERY_EDITOR}.getValue()").splitlines()
    assert all(line.startswith("#") for line in hint)  # comments, no operation
    headers = json.dumps({"Authorization": f"Bearer {KEY}"})
    tab.evaluate(f"{HEADERS_EDITOR}.setValue({json.dumps(headers)})")
    tab.evaluate(f"{QUERY_EDITOR}.setValue('{{ viewer {{ clientId }} }}')")
    # The history records the tab's query as of the run, which follows the editor a moment
    # later.
    tab.wait_for(f"{STORED}.includes('viewer')")
    tab.evaluate(RUN)
    assert "graphiql-portal" in tab.wait_for(
        f"{RESPONSE}?.includes('clientId') && {RESPONSE}"
    )
    tab.wait_for(
        "Object.keys(localStorage).some((k) => k.endsWith('graphiql:queries'))"
    )
    stored = tab.evaluate(STORED)
    assert "viewer" in stored  # the history is kept ...
    assert KEY not in stored  # ... without the headers
    tab.open(f"{configured.url}/graphql")
    tab.wait_for(f"{QUERY_EDITOR}.getValue().includes('viewer')")
    assert tab.evaluate(f"{HEADERS_EDITOR}.getValue()") == ""


def test_graphiql_can_be_turned_off(
    start_gateway: Callable[..., GatewayClient],
) -> None:
    gateway = start_gateway(server={"graphiql": False})
    assert gateway.http.get("/graphql", headers=HTML).status_code == 404
