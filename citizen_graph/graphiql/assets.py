"""`GET /graphiql/{asset}`: the files GraphiQL's page loads, from the package itself — the
npm releases vendored in static/vendor/ (listed with their sha256 in its manifest.json, written
by scripts/vendor_graphiql.py) and the page's own script and style. Nothing else is served."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
OWN = ("graphiql-page.js", "graphiql-page.css")
PREFIX = "/graphiql/"
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# Every URL the page writes carries the file's digest (`Asset.url`): a changed file is a
# new URL, so browsers may keep each one for good.
CACHED = {"Cache-Control": "public, max-age=31536000, immutable"}


@dataclass(frozen=True)
class Asset:
    name: str
    path: Path
    sha256: str  # hex
    package: str = ""  # the npm package it comes from; empty: the page's own
    source: str = ""  # its path in the package's tarball

    @property
    def url(self) -> str:
        return f"{PREFIX}{self.name}?v={self.sha256[:16]}"

    @property
    def integrity(self) -> str:
        """Subresource integrity: the browser runs these bytes or nothing."""
        return "sha256-" + base64.b64encode(bytes.fromhex(self.sha256)).decode()

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.path.suffix]


def load_assets() -> dict[str, Asset]:
    """Every file served, by name: the manifest's and the page's own."""
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    assets = {
        name: Asset(
            name, VENDOR / name, entry["sha256"], entry["package"], entry["path"]
        )
        for name, entry in manifest["files"].items()
    }
    for name in OWN:
        path = STATIC / name
        assets[name] = Asset(name, path, hashlib.sha256(path.read_bytes()).hexdigest())
    return assets


def vendored(assets: dict[str, Asset], package: str, source: str) -> Asset:
    """The vendored file that was `source` in `package`'s release, whatever its version."""
    for asset in assets.values():
        if (asset.package, asset.source) == (package, source):
            return asset
    raise LookupError(f"{package}/{source} is not vendored (make vendor-graphiql)")


class GraphiQLAssets:
    """The route's ASGI app: a name outside the served set is 404, whatever it spells
    (the names are looked up, never joined to a path)."""

    def __init__(self) -> None:
        self.assets = load_assets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        asset = self.assets.get(request.path_params.get("asset", ""))
        response: Response
        if request.method not in ("GET", "HEAD"):
            response = PlainTextResponse(
                "Method Not Allowed", 405, headers={"Allow": "GET, HEAD"}
            )
        elif asset is None:
            response = PlainTextResponse("Not Found", 404)
        else:
            headers = CACHED | {"X-Content-Type-Options": "nosniff"}
            response = FileResponse(
                asset.path, headers=headers, media_type=asset.media_type
            )
        await response(scope, receive, send)
