"""The GraphiQL page (`GET /graphql` from a browser): every asset from the gateway itself, its
settings in a JSON block that static/graphiql-page.js reads, and a Content-Security-Policy that
lets the page load and call nothing but the gateway."""

from __future__ import annotations

import functools
import json
import secrets
from pathlib import Path
from string import Template
from typing import Any

from starlette.responses import HTMLResponse

from citizen_graph.graphiql import example
from citizen_graph.graphiql.assets import Asset, load_assets, vendored

TEMPLATE = Path(__file__).with_name("page.html")
SCRIPTS = (  # in the order they run: React, then GraphiQL's UMD build, then the page's
    ("react", "umd/react.production.min.js"),
    ("react-dom", "umd/react-dom.production.min.js"),
    ("graphiql", "graphiql.min.js"),
)
STYLE = ("graphiql", "graphiql.min.css")
# GraphiQL's style sheet embeds its fonts and icons as data: URLs; its scroll lock adds a
# <style> element, which carries the page's nonce (graphiql-page.js).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def graphiql_page(sandbox: bool) -> HTMLResponse:
    """In sandbox mode, the README's example with the demo headers, which the browser may
    keep; otherwise nothing prefilled, and headers never stored (graphiql-page.js)."""
    nonce = secrets.token_urlsafe(16)
    html = _page().substitute(settings=_json_in_html(_settings(sandbox, nonce)))
    headers = {
        "Content-Security-Policy": POLICY.format(nonce=nonce),
        "Cache-Control": "no-store",  # the nonce is this response's own
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, headers=headers)


@functools.cache
def _page() -> Template:
    """The page with its assets in place, read and hashed once: only its settings (the
    nonce) differ from one response to the next."""
    assets = load_assets()
    scripts = [vendored(assets, *script) for script in SCRIPTS]
    page = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        styles=_links([vendored(assets, *STYLE), assets["graphiql-page.css"]]),
        scripts=_scripts([*scripts, assets["graphiql-page.js"]]),
    )
    return Template(page)


def _settings(sandbox: bool, nonce: str) -> dict[str, Any]:
    prefilled = None
    if sandbox:
        prefilled = {
            "query": example.QUERY,
            "variables": json.dumps(example.VARIABLES, indent=2),
            "headers": json.dumps(example.HEADERS, indent=2),
        }
    return {
        "prefilled": prefilled,
        "persistHeaders": sandbox,
        # Sandbox and configured gateways on one origin keep apart what they store.
        "storagePrefix": "citizen-graph:sandbox:" if sandbox else "citizen-graph:",
        "styleNonce": nonce,
    }


def _json_in_html(value: object) -> str:
    """JSON that cannot close its <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _links(assets: list[Asset]) -> str:
    return "\n    ".join(
        f'<link rel="stylesheet" href="{a.url}" integrity="{a.integrity}">'
        for a in assets
    )


def _scripts(assets: list[Asset]) -> str:
    return "\n    ".join(
        f'<script src="{a.url}" integrity="{a.integrity}"></script>' for a in assets
    )
