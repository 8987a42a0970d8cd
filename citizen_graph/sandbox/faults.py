"""Injected faults (`PUT /_sandbox/faults/{upstream}`): added latency, a share of failing
requests, or a full outage, answered in the upstream's own error format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MAX_LATENCY_MS = 600_000


class FaultError(ValueError):
    """The JSON of a fault is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class Fault:
    latency_ms: int = 0
    error_rate: float = 0.0
    status: int = 503
    outage: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict):
            raise FaultError("The body must be a JSON object.")
        unknown = set(raw) - {"latency_ms", "error_rate", "status", "outage"}
        if unknown:
            raise FaultError(f"Unknown keys: {', '.join(sorted(unknown))}.")
        fault = cls(**raw)
        fault._validate()
        return fault

    def _validate(self) -> None:
        if not _is_int(self.latency_ms) or not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise FaultError(f"latency_ms must be an integer in 0..{MAX_LATENCY_MS}.")
        rate = self.error_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not 0 <= rate <= 1
        ):
            raise FaultError("error_rate must be a number in 0..1.")
        if not _is_int(self.status) or not 400 <= self.status <= 599:
            raise FaultError("status must be an HTTP error status, 400..599.")
        if not isinstance(self.outage, bool):
            raise FaultError("outage must be true or false.")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
