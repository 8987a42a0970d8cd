"""The peer gateway: GraphQL Mesh (compose, from the sandbox's own OpenAPI documents) behind
Hive Gateway, installed with npm from the registry into bench/.peer/ (ignored) on first use.

Recipe: ../shared/reference/peer-hive-mesh.md. Mesh exposes the upstream operations as they
are: one DGFiP situation per citizen (aliases c0…c19), and one BAN `/search/` per address,
linked from the situation's tax-address label, where citizen-graph batches BAN. API
Particulier is not composed: identity, tax notice and address all come from DGFiP and BAN.
The DGFiP bearer token is fetched once and sent as a static header (no token management on
the peer's side: a simplification in its favour).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from bench.harness import RESULTS, ROOT, free_port, process

HOME = ROOT / "bench" / ".peer"
PACKAGES = {  # pinned: the versions the recipe measured, graphql 16 (Mesh's peer range)
    "@graphql-hive/gateway": "2.15.1",
    "@graphql-mesh/compose-cli": "1.8.2",
    "@graphql-mesh/fusion-composition": "0.11.2",
    "@omnigraph/openapi": "0.112.4",
    "graphql": "16.15.0",
}
CORRELATION_ID = "123e4567-e89b-12d3-a456-426614174000"
# `limit: "1"`: a bare number in sourceArgs is dropped (BAN then returns up to 5 results).
MESH_CONFIG = """\
import { defineConfig } from '@graphql-mesh/compose-cli'
import { loadOpenAPISubgraph } from '@omnigraph/openapi'
import { createRenameTypeTransform } from '@graphql-mesh/fusion-composition'
const SB = process.env.SANDBOX_URL, TOKEN = process.env.DGFIP_TOKEN
export const composeConfig = defineConfig({
  subgraphs: [
    { sourceHandler: loadOpenAPISubgraph('DGFIP', {
        source: `${SB}/_sandbox/openapi/dgfip.json`, endpoint: `${SB}/dgfip`,
        operationHeaders: { Authorization: `Bearer ${TOKEN}`,
                            'X-Correlation-ID': '@CORRELATION_ID@' } }) },
    { sourceHandler: loadOpenAPISubgraph('BAN', {
        source: `${SB}/_sandbox/openapi/ban.json`, endpoint: `${SB}/ban` }),
      transforms: [createRenameTypeTransform(
        ({ typeName }) => (typeName === 'Error' ? 'BanError' : typeName))] },
  ],
  additionalTypeDefs: `extend type Situation {
    geocoded: Collection @resolveTo(sourceName: "BAN", sourceTypeName: "Query",
      sourceFieldName: "search", requiredSelectionSet: "{ aft }",
      sourceArgs: { q: "{root.aft}", limit: "1" }) }`,
})
""".replace("@CORRELATION_ID@", CORRELATION_ID)
# An explicit gateway config keeps the CLI from loading mesh.config.ts again.
GATEWAY_CONFIG = (
    "import { defineConfig } from '@graphql-hive/gateway'\n"
    "export const gatewayConfig = defineConfig({})\n"
)
ROUTE = "impotparticulier_1_0_spi_by_spi_situations_ir_assiettes_annrev_by_annrev"
# The situation's named fields, the rest of it (identity, tax detail) as JSON, the address.
SITUATION = (
    "__typename ... on Situation { rfr nbPart sitFam aft montTotIr spiDec1 spiDec2 "
    "additionalProperties geocoded { features } }"
)


class PeerUnavailable(Exception):
    """The peer cannot run here; the message says why, in one line."""


@dataclass(frozen=True)
class Peer:
    url: str
    pid: int
    income_year: int  # the latest, as citizen-graph's taxNotice returns it


def install() -> None:
    """Install the pinned packages into bench/.peer/ unless they already are."""
    if not (shutil.which("node") and shutil.which("npm")):
        raise PeerUnavailable("node and npm are not both on PATH")
    manifest = json.dumps(
        {"name": "citizen-graph-bench-peer", "private": True, "dependencies": PACKAGES},
        indent=2,
    )
    stamp = HOME / ".installed"
    if stamp.is_file() and stamp.read_text() == manifest and _bin("hive-gateway"):
        return
    HOME.mkdir(parents=True, exist_ok=True)
    (HOME / "package.json").write_text(manifest + "\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "peer-install.log"
    print(f"peer: npm install {', '.join(f'{k}@{v}' for k, v in PACKAGES.items())}")
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund"],
                cwd=HOME,
                stdout=out,
                stderr=out,
                timeout=900,
            )
        except subprocess.TimeoutExpired:
            raise PeerUnavailable(f"npm install timed out; see {log}") from None
    if done.returncode != 0 or not _bin("hive-gateway"):
        raise PeerUnavailable(f"npm install failed ({done.returncode}); see {log}")
    stamp.write_text(manifest)


def _bin(name: str) -> bool:
    return (HOME / "node_modules" / ".bin" / name).exists()


@contextmanager
def serve(sandbox: httpx.Client) -> Iterator[Peer]:
    """Compose the supergraph from this sandbox's documents and serve it (one process)."""
    token = _dgfip_token(sandbox)
    year = _latest_income_year(sandbox, token)
    (HOME / "mesh.config.ts").write_text(MESH_CONFIG)
    (HOME / "gateway.config.ts").write_text(GATEWAY_CONFIG)
    environment = {
        "SANDBOX_URL": str(sandbox.base_url).rstrip("/"),
        "DGFIP_TOKEN": token,
    }
    composed = subprocess.run(
        ["node", "node_modules/.bin/mesh-compose", "-o", "supergraph.graphql"],
        cwd=HOME,
        env=os.environ | environment,
        capture_output=True,
        timeout=120,
    )
    if composed.returncode != 0:
        (RESULTS / "peer-compose.log").write_bytes(composed.stdout + composed.stderr)
        raise PeerUnavailable("mesh-compose failed; see bench/results/peer-compose.log")
    port = free_port()
    args = [
        "node",
        "node_modules/.bin/hive-gateway",
        "supergraph",
        "supergraph.graphql",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--fork",
        "1",
        "-c",
        "gateway.config.ts",
    ]
    url = f"http://127.0.0.1:{port}"
    with process(args, f"{url}/readiness", name="peer-hive-gateway", cwd=HOME) as proc:
        yield Peer(f"{url}/graphql", proc.pid, year)


def _dgfip_token(sandbox: httpx.Client) -> str:
    """A DGFiP client of the peer's own, and a bearer token for the yearly route."""
    client = sandbox.post("/_sandbox/dgfip/clients", json={"scopes": ["RessourceIR"]})
    client.raise_for_status()
    form = {"grant_type": "client_credentials", "scope": "RessourceIR", **client.json()}
    token = sandbox.post("/dgfip/token", data=form)
    token.raise_for_status()
    access_token: str = token.json()["access_token"]
    return access_token


def _latest_income_year(sandbox: httpx.Client, token: str) -> int:
    """The latest year the yearly route serves (the peer's token holds no other scope)."""
    spi = "3000000000011"  # a fixed citizen of the sandbox
    headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": CORRELATION_ID}
    this_year = datetime.date.today().year
    for year in range(this_year, this_year - 3, -1):
        path = f"/dgfip/impotparticulier/1.0/spi/{spi}/situations/ir/assiettes/annrev/{year}"
        if sandbox.get(path, headers=headers).status_code == 200:
            return year
    raise PeerUnavailable("DGFiP's yearly route serves none of the last three years")


def query(citizens: int, income_year: int) -> str:
    """One aliased DGFiP situation (and its BAN address) per citizen: $s0, $s1, …"""
    spi = f"queryInput_{ROUTE}_spi"
    variables = ", ".join(f"$s{i}: {spi}!" for i in range(citizens))
    fields = " ".join(
        f'c{i}: {ROUTE}(spi: $s{i}, annrev: "{income_year}") {{ {SITUATION} }}'
        for i in range(citizens)
    )
    return f"query Peer({variables}) {{ {fields} }}"


def failures(status: int, body: bytes) -> int:
    """Citizens whose situation or address is missing, or the GraphQL errors if more."""
    if status != 200:
        return 1
    answer = json.loads(body)
    missing = sum(
        1
        for situation in (answer.get("data") or {}).values()
        if not situation
        or situation.get("__typename") != "Situation"
        or not (situation.get("geocoded") or {}).get("features")
    )
    return max(missing, len(answer.get("errors") or []))
