"""The `citizen-graph` console script: thin sub-commands over the app factory."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from citizen_graph.app import (
    demo_habilitation,
    preflight,
    read_clients,
)
from citizen_graph.auth.clients import Client
from citizen_graph.auth.credentials import key_hash
from citizen_graph.auth.demo_keys import DEMO_KEYS, demo_client
from citizen_graph.auth.habilitations import Habilitation
from citizen_graph.auth.policy import Policy, PolicyError, load_policy, restricted_sdl
from citizen_graph.cli_audit import AUDIT_PATHS, audit_find, audit_verify
from citizen_graph.cli_common import fail as _fail
from citizen_graph.cli_common import settings_for as _settings
from citizen_graph.errors import ConfigurationError
from citizen_graph.schema import CitizenSchema, build_schema
from citizen_graph.serving import SERVER_OPTIONS
from citizen_graph.settings import Settings, settings_from_environment
from citizen_graph.telemetry import configure_logging
from citizen_graph.workers import serve_workers

logger = logging.getLogger("citizen_graph.cli")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.command(args)
    except ConfigurationError as error:
        print(f"citizen-graph: {error}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citizen-graph")
    commands = parser.add_subparsers(required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="TOML settings file (else sandbox mode)")
    serve.add_argument("--host")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="serve sandbox mode (demo keys, simulated upstreams) on a non-loopback host",
    )
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--sandbox-url", help="use a sandbox already running there")
    serve.add_argument("--sandbox-port", type=int)
    serve.add_argument("--latency", help="embedded sandbox latency profile")
    serve.set_defaults(command=_serve)

    sandbox = commands.add_parser("sandbox", help="run the simulated State APIs alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.add_argument("--latency", default="none")
    sandbox.add_argument(
        "--ban-rate-limit-per-s",
        type=int,
        default=None,
        help="BAN's per-IP limit instead of the real 50 requests/s (0: none)",
    )
    sandbox.set_defaults(command=_sandbox)

    schema = commands.add_parser("schema", help="print the SDL")
    schema.add_argument("--role", help="only what this role may read")
    schema.add_argument(
        "--client",
        help="with --role: only what this client's habilitation for the role covers "
        "(a client id of --clients, or of a demo key)",
    )
    schema.add_argument("--clients", help="clients file for --client")
    schema.add_argument("--policy", help="policy file (default: the shipped policy)")
    schema.set_defaults(command=_schema)

    clients = commands.add_parser("clients", help="the API clients and habilitations")
    clients_commands = clients.add_subparsers(required=True)
    clients_check = clients_commands.add_parser(
        "check", help="validate a clients file (its secrets are read, never printed)"
    )
    clients_check.add_argument("file", nargs="?", help="default: auth.clients_file")
    clients_check.add_argument("--config", help="settings file naming the clients file")
    clients_check.add_argument("--policy", help="policy file (default: shipped)")
    clients_check.set_defaults(command=_clients_check)

    policy = commands.add_parser("policy", help="the authorization policy")
    policy_commands = policy.add_subparsers(required=True)
    check = policy_commands.add_parser("check", help="validate a policy file")
    check.add_argument("file", nargs="?", help="default: the shipped policy")
    check.set_defaults(command=_policy_check)

    audit = commands.add_parser("audit", help="read the audit trail")
    audit_commands = audit.add_subparsers(required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the keyed chain and seals of every chain of audit files"
    )
    verify.add_argument("files", nargs="+", metavar="PATH", help=AUDIT_PATHS)
    verify.add_argument(
        "--partial",
        action="store_true",
        help="the oldest files were purged by retention: accept any start",
    )
    verify.add_argument("--config", help="settings file holding audit.chain_secret")
    verify.set_defaults(command=audit_verify)
    find = audit_commands.add_parser(
        "find", help="who read this citizen's data, or what an agent read (or both)"
    )
    find.add_argument("files", nargs="+", metavar="PATH", help=AUDIT_PATHS)
    find.add_argument("--fiscal-number", help="the citizen's")
    find.add_argument(
        "--agent", metavar="SUB", help="an agent's subject (its token's sub)"
    )
    find.add_argument("--config", help="settings file holding audit.secret")
    find.set_defaults(command=audit_find)

    key = commands.add_parser("key-hash", help="SHA-256 of an API key read on stdin")
    key.set_defaults(command=_key_hash)
    return parser


def _serve(args: argparse.Namespace) -> None:
    overrides = {
        "CITIZEN_GRAPH_SERVER_HOST": args.host,
        "CITIZEN_GRAPH_SERVER_PORT": args.port,
        "CITIZEN_GRAPH_SERVER_WORKERS": args.workers,
        "CITIZEN_GRAPH_SANDBOX_URL": args.sandbox_url,
        "CITIZEN_GRAPH_SANDBOX_PORT": args.sandbox_port,
        "CITIZEN_GRAPH_SANDBOX_LATENCY": args.latency,
        "CITIZEN_GRAPH_CONFIG": args.config,
    }
    os.environ.update({k: str(v) for k, v in overrides.items() if v is not None})
    settings = settings_from_environment()
    if settings.sandbox.demo_keys and not args.sandbox:
        _refuse_network_sandbox(settings.server.host)
    preflight(settings)
    configure_logging()
    if settings.server.workers > 1:
        settings = _prepare_workers(settings)
        _announce(settings)
        server = settings.server
        with _metrics_folder():
            code = serve_workers(server.host, server.port, server.workers)
        sys.exit(code)
    _announce(settings)
    uvicorn.run(
        "citizen_graph.app:create_app_from_environment",
        factory=True,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        timeout_graceful_shutdown=10,
        **SERVER_OPTIONS,
    )


@contextmanager
def _metrics_folder() -> Iterator[None]:
    """prometheus_client's multiprocess mode for the workers (metrics.py): a fresh folder
    they all write their values to, named before they start, removed after."""
    folder = tempfile.mkdtemp(prefix="citizen-graph-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _prepare_workers(settings: Settings) -> Settings:
    """Several workers share one sandbox and split the upstream rate limits, unless a
    Redis counts them for all (each then keeps its share only while Redis is lost)."""
    workers = settings.server.workers
    if settings.sandbox.enabled and not settings.sandbox.url:
        from citizen_graph.sandbox import create_sandbox_app
        from citizen_graph.serving import ThreadedServer

        server = ThreadedServer(
            create_sandbox_app(latency=settings.sandbox.latency),
            settings.sandbox.host,
            settings.sandbox.port,
        ).start()
        os.environ["CITIZEN_GRAPH_SANDBOX_URL"] = server.url
    if settings.redis.url:
        return settings_from_environment()
    for section, limit in (
        ("API_PARTICULIER", settings.api_particulier.rate_limit_per_s),
        ("BAN", settings.ban.rate_limit_per_s),
    ):
        # 0 means no limit, and stays so; a limit is split, at least 1 call/s each.
        share = max(1, limit // workers) if limit else 0
        os.environ[f"CITIZEN_GRAPH_{section}_RATE_LIMIT_PER_S"] = str(share)
    return settings_from_environment()


def _refuse_network_sandbox(host: str) -> None:
    """The demo keys are public: serving them beyond this machine must be asked for."""
    if _is_loopback(host):
        return
    _fail(
        "no configuration, so this is sandbox mode (public demo keys, simulated "
        f"upstreams), and {host} is not a loopback address: pass --sandbox to serve "
        "the demo keys on a network, or --config for a real deployment"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # any other name may resolve to any address
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def _announce(settings: Settings) -> None:
    """The start-up banner, as log lines (JSON, like every other)."""
    url = f"http://{settings.server.host}:{settings.server.port}/graphql"
    logger.info("GraphiQL at %s", url, extra={"url": url})
    if not settings.sandbox.demo_keys:
        return
    where = settings.sandbox.url or (
        f"http://{settings.sandbox.host}:{settings.sandbox.port}"
    )
    logger.info(
        "sandbox mode: simulated State APIs at %s", where, extra={"sandbox_url": where}
    )
    for key, demo in DEMO_KEYS.items():
        logger.info(
            "demo key: Authorization: Bearer %s (roles: %s)",
            key,
            ", ".join(demo.roles),
            extra={"demo_key": key, "roles": list(demo.roles)},
        )


def _sandbox(args: argparse.Namespace) -> None:
    from citizen_graph.sandbox import create_sandbox_app

    configure_logging()
    url = f"http://{args.host}:{args.port}"
    logger.info("sandbox at %s", url, extra={"sandbox_url": url})
    uvicorn.run(
        create_sandbox_app(
            latency=args.latency,
            rate_limits=(
                {}
                if args.ban_rate_limit_per_s is None
                else {"ban": args.ban_rate_limit_per_s}
            ),
        ),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        **SERVER_OPTIONS,
    )


def _schema(args: argparse.Namespace) -> None:
    schema = build_schema()
    if not args.role:
        print(schema.as_str())
        return
    policy = _load_policy(schema, args.policy)
    if args.role not in policy.roles:
        _fail(f"unknown role {args.role!r}; the policy has: {', '.join(policy.roles)}")
    uncovered: frozenset[str] = frozenset()
    if args.client:
        uncovered = _habilitation_for(args, policy).uncovered
    print(restricted_sdl(schema.as_str(), policy, args.role, uncovered))


def _habilitation_for(args: argparse.Namespace, policy: Policy) -> Habilitation:
    if args.clients:
        clients = _read_clients(args.clients, policy)
    else:  # the demo keys' habilitations (their scopes; no credential needed)
        clients = [
            demo_client(key, (demo_habilitation(key, "", None),)) for key in DEMO_KEYS
        ]
    client = next((c for c in clients if c.client_id == args.client), None)
    if client is None:
        _fail(f"unknown client {args.client!r}")
    found = client.habilitation_for(args.role)
    if found is None:
        _fail(f"client {args.client!r} has no habilitation serving role {args.role!r}")
    return found


def _clients_check(args: argparse.Namespace) -> None:
    file = args.file or _settings(args.config).auth.clients_file
    if not file:
        _fail("give a clients file, or a --config whose auth.clients_file names one")
    policy = _load_policy(build_schema(), args.policy)
    for client in _read_clients(file, policy):
        print(
            f"{client.client_id} (SIRET {client.recipient}): roles {', '.join(client.roles)}"
        )
        for granted in client.habilitations:
            print(f"  habilitation {granted.describe()}")
            print(
                f"    serves {', '.join(granted.roles)}; leaves out {len(granted.uncovered)} fields"
            )
        for role in client.roles:
            if client.habilitation_for(role) is None:
                print(f"  role {role}: no habilitation, refused (FORBIDDEN_ROLE)")
    print(f"citizen-graph: clients file {file} is valid")


def _read_clients(file: str, policy: Policy) -> list[Client]:
    try:
        return read_clients(Path(file), policy)
    except ConfigurationError as error:
        _fail(f"invalid clients file: {error}")


def _policy_check(args: argparse.Namespace) -> None:
    policy = _load_policy(build_schema(), args.file)
    for name, role in policy.roles.items():
        purpose = ", purpose required" if role.purpose_required else ""
        print(f"{name}: {len(role.readable)} readable fields{purpose}")
    print(f"citizen-graph: policy {args.file or '(default)'} is valid")


def _load_policy(schema: CitizenSchema, file: str | None) -> Policy:
    try:
        return load_policy(schema._schema, Path(file) if file else None)
    except PolicyError as error:
        _fail(f"invalid policy: {error}")


def _key_hash(args: argparse.Namespace) -> None:
    print(key_hash(sys.stdin.readline().strip()))
