"""Typed settings: one TOML file plus `CITIZEN_GRAPH_<SECTION>_<KEY>` overrides, checked once.

Unknown sections or keys are errors; names carry their units; secrets are `Secret`s so they
never print. Defaults live here and nowhere else. Settings are frozen: a changed copy is
`dataclasses.replace(settings, section=dataclasses.replace(settings.section, key=…))`, which
mypy checks key by key (a `str` passed for a `Secret` is an error).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from starlette.datastructures import Secret

from citizen_graph.errors import ConfigurationError

ENV_PREFIX = "CITIZEN_GRAPH_"
# A browser's Origin as it sends it: scheme, lower-case host (or [IPv6]), optional port.
ORIGIN = re.compile(
    r"https?://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?"
)


class SettingsError(ConfigurationError):
    """The configuration is invalid; the message names the offending key."""


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    request_deadline_s: float = 8.0  # under API Particulier's 10 s provider wait
    max_body_bytes: int = 200_000
    graphiql: bool = True
    # The secret that makes Citizen.id opaque; sandbox mode uses a fixed development value.
    id_secret: Secret = Secret("")
    # Browser origins allowed to call the gateway (CORS), comma-separated; empty: none.
    # Keys are server-side secrets: only a front-end using agents' tokens belongs here.
    cors_origins: str = ""

    def __post_init__(self) -> None:
        for origin in self.origins:  # an entry no browser sends would allow nothing
            if not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"server.cors_origins: {origin!r} is not an origin (scheme://host"
                    "[:port], lower case, no path; never * or null)"
                )

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())


@dataclasses.dataclass(frozen=True)
class SandboxSettings:
    enabled: bool = False
    url: str = ""  # an already running sandbox; empty = embedded
    host: str = "127.0.0.1"
    port: int = 8001
    latency: str = "none"
    # Only `serve` without a config file turns this on (a file or a variable naming it is
    # an error): the contract's demo keys are never accepted by a configured gateway, even
    # one pointed at a sandbox.
    demo_keys: bool = False
    # Distinct citizens per 60 s of each demo key (demo-quota-small keeps its 10); 0 = none.
    demo_quota: int = 1000


@dataclasses.dataclass(frozen=True)
class UpstreamSettings:
    """What every upstream's section holds: where it is, how long to wait, how many
    connections (the connectors' `ClientConfig` turns these into httpx's)."""

    base_url: str = ""
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 5.0
    max_connections: int = 10
    rate_limit_per_s: int = 0  # client-side calls per second; 0 = none


@dataclasses.dataclass(frozen=True)
class DgfipSettings(UpstreamSettings):
    # Credentials are the habilitations' (clients file), never the gateway's own.
    teleservice_id: str = "citizen-graph"  # ID_Teleservice
    max_connections: int = 50


@dataclasses.dataclass(frozen=True)
class ApiParticulierSettings(UpstreamSettings):
    # Tokens are the habilitations' (clients file): 20 calls/s each.
    read_timeout_s: float = 5.0  # API Particulier's recommended client timeout
    max_connections: int = 20
    rate_limit_per_s: int = 20  # per token; exceeding it risks a 12 h IP ban


@dataclasses.dataclass(frozen=True)
class BanSettings(UpstreamSettings):
    read_timeout_s: float = 3.0
    max_connections: int = 10
    rate_limit_per_s: int = 50  # per IP


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    max_entries: int = 20_000  # per upstream operation
    tax_ttl_s: float = 3600.0  # a tax notice changes at most a few times a year
    family_quotient_ttl_s: float = 600.0
    student_status_ttl_s: float = 600.0
    geocode_ttl_s: float = 86_400.0  # BAN index is refreshed weekly
    not_found_ttl_s: float = 60.0  # absence is cached briefly


@dataclasses.dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 5  # consecutive failures before the circuit opens
    open_s: float = 30.0


@dataclasses.dataclass(frozen=True)
class LimitSettings:
    max_keys: int = 100  # citizens per request, across root fields and aliases
    # Upstream-backed Citizen fields × citizens (one upstream call each, at most).
    max_cost: int = 500
    max_depth: int = 8
    # Below `__schema` / `__type`: the standard introspection query is 11 deep.
    max_introspection_depth: int = 15
    max_fields: int = 500  # field selections once fragments are expanded
    max_repeats: int = 10  # occurrences of one response key in one selection set
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives: int = 20
    max_directives_per_field: int = 3
    # `__schema` selections once fragments are expanded: each one walks the whole schema.
    max_introspections: int = 1
    # Values in the request's variables (objects, lists and leaves): bounded before coercion.
    max_variable_values: int = 2000


@dataclasses.dataclass(frozen=True)
class AuthSettings:
    clients_file: str = ""  # TOML list of API clients; sandbox mode uses the demo keys
    policy_file: str = ""  # empty: the shipped default policy
    # Agents' JWTs (README "Agents' tokens", auth/agents.py): a JWKS URL or file; neither:
    # API keys only (sandbox mode: the sandbox's JWKS, issuer and audience).
    jwks_url: str = ""  # https (http for a loopback host only)
    jwks_file: str = ""
    issuer: str = ""  # the tokens' `iss`, required with a JWKS
    audience: str = ""  # the tokens' `aud`: this gateway's client id at the provider
    leeway_s: float = 30.0  # clock skew allowed on exp, nbf and iat (at most 300)
    jwks_refetch_s: float = 30.0  # at most one JWKS fetch per this, however many `kid`s
    jwks_ttl_s: float = 300.0  # a fetched JWKS is fetched again after this


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    file: str = "audit.jsonl"
    # Keys the citizens' hashes: without it the file cannot be searched by fiscal number.
    secret: Secret = Secret("")
    # Keys the chain and its seals (distinct from `secret`): without it no one can re-link
    # an edited file, and `citizen-graph audit verify` needs it.
    chain_secret: Secret = Secret("")
    rotate_bytes: int = 50_000_000
    retention_days: int = 1096  # API Particulier: agents' access traces kept 36 months
    fsync: bool = False


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    """Shared state between replicas (CONTRACT.md §8); empty `url`: all of it per process."""

    url: str = ""  # e.g. redis://127.0.0.1:6379/0
    # Encrypts the cached answers (AES-GCM) and keys every hash stored in Redis; required
    # with `url` outside sandbox mode, the same on every replica.
    key: Secret = Secret("")
    # Gateway processes sharing the Redis (replicas × workers each): when it is lost, each
    # keeps this share of the upstream rate limits and client quotas.
    replicas: int = 1
    timeout_s: float = 0.5  # per command: a lost Redis must not stall a request
    max_connections: int = 32  # per process; past it, commands queue for one
    retry_s: float = 1.0  # how often a lost Redis is tried again
    prefix: str = (
        "citizen-graph"  # of every key, for a Redis shared with other services
    )


@dataclasses.dataclass(frozen=True)
class TracingSettings:
    """OpenTelemetry traces (README "Traces"); off while `endpoint` is empty."""

    endpoint: str = ""  # OTLP/HTTP, e.g. http://otel-collector:4318/v1/traces
    service_name: str = "citizen-graph"
    sample_ratio: float = (
        1.0  # of the traces this gateway starts; a caller's choice wins
    )
    export_delay_s: float = 5.0  # spans are sent in batches at most this late
    timeout_s: float = 5.0  # per export


@dataclasses.dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    sandbox: SandboxSettings = SandboxSettings()
    dgfip: DgfipSettings = DgfipSettings()
    api_particulier: ApiParticulierSettings = ApiParticulierSettings()
    ban: BanSettings = BanSettings()
    cache: CacheSettings = CacheSettings()
    breaker: BreakerSettings = BreakerSettings()
    limits: LimitSettings = LimitSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    redis: RedisSettings = RedisSettings()
    tracing: TracingSettings = TracingSettings()


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate everything."""
    raw: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    env = os.environ if environ is None else environ
    _apply_environment(raw, env)
    sandbox = raw.get("sandbox")
    if isinstance(sandbox, Mapping) and "demo_keys" in sandbox:
        raise SettingsError(
            "sandbox.demo_keys cannot be set: only `serve` without a config file "
            "takes the demo keys"
        )
    settings: Settings = _build(Settings, raw, "")
    return settings


def _sections() -> dict[str, Any]:
    return get_type_hints(Settings)


def _apply_environment(raw: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    # Longest section names first, so `API_PARTICULIER_TOKEN` is not read as `API`.
    names = sorted(_sections(), key=len, reverse=True)
    for variable, value in env.items():
        if not variable.startswith(ENV_PREFIX) or variable == ENV_PREFIX + "CONFIG":
            continue
        rest = variable.removeprefix(ENV_PREFIX).lower()
        section = next((n for n in names if rest.startswith(n + "_")), None)
        if section is None:
            raise SettingsError(f"unknown setting in environment: {variable}")
        key = rest.removeprefix(section + "_")
        if key not in get_type_hints(_sections()[section]):
            raise SettingsError(f"unknown setting in environment: {variable}")
        raw.setdefault(section, {})[key] = value


def _build(cls: type[Any], raw: Mapping[str, Any], where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"[{where}] must be a table")
    hints = get_type_hints(cls)
    unknown = set(raw) - set(hints)
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(f"unknown setting: {where + '.' if where else ''}{name}")
    values = {}
    for name, value in raw.items():
        key = f"{where}.{name}" if where else name
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        else:
            values[name] = _convert(hint, value, key)
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    try:
        if hint is Secret:
            return Secret(str(value))
        if hint is bool:
            return _to_bool(value)
        if hint in (int, float) and isinstance(value, bool):
            raise ValueError
        return hint(value)
    except ValueError:
        raise SettingsError(f"{key} must be a {hint.__name__}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def settings_from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for a worker process: the file named by CITIZEN_GRAPH_CONFIG, if any.

    Without a file (and without an explicit CITIZEN_GRAPH_SANDBOX_ENABLED), sandbox mode.
    """
    env = os.environ if environ is None else environ
    config = env.get(ENV_PREFIX + "CONFIG")
    settings = load_settings(Path(config) if config else None, env)
    if not config and ENV_PREFIX + "SANDBOX_ENABLED" not in env:
        sandbox = dataclasses.replace(settings.sandbox, enabled=True, demo_keys=True)
        settings = dataclasses.replace(settings, sandbox=sandbox)
    return settings


def environment() -> Mapping[str, str]:
    """The process environment, where the clients file's `{ env = "NAME" }` secrets live."""
    return os.environ
