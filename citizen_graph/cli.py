"""The `citizen-graph` console script: thin sub-commands over the app factory."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import uvicorn

from citizen_graph.app import (
    SANDBOX_AUDIT_SECRET,
    SANDBOX_CHAIN_SECRET,
    demo_habilitation,
    read_clients,
)
from citizen_graph.auth.audit import SubjectHasher, find, verify_files
from citizen_graph.auth.credentials import DEMO_KEYS, Client, demo_client, key_hash
from citizen_graph.auth.habilitations import Habilitation
from citizen_graph.auth.policy import Policy, PolicyError, load_policy, restricted_sdl
from citizen_graph.errors import ConfigurationError
from citizen_graph.schema import CitizenSchema, build_schema
from citizen_graph.serving import SERVER_OPTIONS
from citizen_graph.settings import Settings, SettingsError, settings_from_environment
from citizen_graph.telemetry import configure_logging
from citizen_graph.workers import serve_workers

MAX_BREAKS_SHOWN = 20  # a chain written with another key breaks at every line


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
        "verify", help="check the keyed chain and seals of audit files, oldest first"
    )
    verify.add_argument("files", nargs="+", metavar="FILE")
    verify.add_argument(
        "--partial",
        action="store_true",
        help="the oldest files were purged by retention: accept any start",
    )
    verify.add_argument("--config", help="settings file holding audit.chain_secret")
    verify.set_defaults(command=_audit_verify)
    find = audit_commands.add_parser("find", help="who read this citizen's data")
    find.add_argument("file")
    find.add_argument("--fiscal-number", required=True)
    find.add_argument("--config", help="settings file holding audit.secret")
    find.set_defaults(command=_audit_find)

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
    configure_logging()
    if settings.server.workers > 1:
        settings = _prepare_workers(settings)
        _announce(settings)
        server = settings.server
        sys.exit(serve_workers(server.host, server.port, server.workers))
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


def _prepare_workers(settings: Settings) -> Settings:
    """Several workers share one sandbox and split the upstream rate limits."""
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
    for section, limit in (
        ("API_PARTICULIER", settings.api_particulier.rate_limit_per_s),
        ("BAN", settings.ban.rate_limit_per_s),
    ):
        # 0 means no limit, and stays so; a limit is split, at least 1 call/s each.
        share = max(1, limit // workers) if limit else 0
        os.environ[f"CITIZEN_GRAPH_{section}_RATE_LIMIT_PER_S"] = str(share)
    return settings_from_environment()


def _announce(settings: Settings) -> None:
    base = f"http://{settings.server.host}:{settings.server.port}"
    print(f"citizen-graph: GraphiQL at {base}/graphql")
    if settings.sandbox.demo_keys:
        where = settings.sandbox.url or (
            f"http://{settings.sandbox.host}:{settings.sandbox.port}"
        )
        print(f"citizen-graph: sandbox mode, simulated State APIs at {where}")
        print("citizen-graph: demo API keys (Authorization: Bearer <key>):")
        for key, demo in DEMO_KEYS.items():
            print(f"  {key:<22} roles: {', '.join(demo.roles)}")


def _sandbox(args: argparse.Namespace) -> None:
    from citizen_graph.sandbox import create_sandbox_app

    configure_logging()
    print(f"citizen-graph: sandbox at http://{args.host}:{args.port}")
    uvicorn.run(
        create_sandbox_app(latency=args.latency),
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


def _audit_verify(args: argparse.Namespace) -> None:
    key = _chain_secret(_settings(args.config))
    try:
        report = verify_files([Path(f) for f in args.files], key, partial=args.partial)
    except OSError as error:
        _fail(f"cannot read {error.filename}: {error.strerror}")
    for found in report.breaks[:MAX_BREAKS_SHOWN]:
        print(found)
    if len(report.breaks) > MAX_BREAKS_SHOWN:
        print(f"... and {len(report.breaks) - MAX_BREAKS_SHOWN} more")
    if report.note:
        print(f"citizen-graph: note: {report.note}")
    if report.breaks:
        _fail(f"the chain is broken ({len(report.breaks)} problem(s))")
    print(f"citizen-graph: {' '.join(args.files)}: chain intact")


def _audit_find(args: argparse.Namespace) -> None:
    settings = _settings(args.config)
    secret = str(settings.audit.secret) or SANDBOX_AUDIT_SECRET
    subject = SubjectHasher(secret).fiscal_number(args.fiscal_number)
    with _open(args.file) as lines:
        for record in find(lines, subject):
            # Files written before the rename say `fields_returned`.
            fields = record.get("fields_permitted", record.get("fields_returned", []))
            refusal = record.get("refusal")
            what = (
                f"refused: {refusal['code']}"
                if refusal
                else f"fields: {', '.join(fields) or '-'}"
            )
            print(
                f"{record['time']} {record['client_id']} (SIRET {record['recipient']}) "
                f"role={record['role']} purpose={record['purpose']!r} "
                f"request={record['request_id']} {what}"
            )


def _chain_secret(settings: Settings) -> str:
    secret = str(settings.audit.chain_secret)
    if not secret and not settings.sandbox.enabled:
        raise SettingsError("audit.chain_secret is required outside sandbox mode")
    return secret or SANDBOX_CHAIN_SECRET


def _settings(config: str | None) -> Settings:
    if not config:
        return settings_from_environment()
    return settings_from_environment({**os.environ, "CITIZEN_GRAPH_CONFIG": config})


def _key_hash(args: argparse.Namespace) -> None:
    print(key_hash(sys.stdin.readline().strip()))


@contextmanager
def _open(*files: str) -> Iterator[Iterator[str]]:
    """The non-empty lines of the files, in order (one chain across rotated files)."""
    try:
        texts = [Path(file).read_text(encoding="utf-8") for file in files]
    except OSError as error:
        _fail(f"cannot read {error.filename}: {error.strerror}")
    yield (line for text in texts for line in text.splitlines() if line.strip())


def _fail(message: str) -> NoReturn:
    print(f"citizen-graph: {message}", file=sys.stderr)
    sys.exit(1)
