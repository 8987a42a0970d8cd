"""Magic values that make a simulated upstream fail on purpose, like the official staging data."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# None of them is in the catalogue (`GET /_sandbox/citizens`).
#
# upstream        | input                                | answer
# ----------------|--------------------------------------|----------------------------------------
# DGFiP           | SPI `1111111111403`                  | 403, codeapp `4031` (no access)
# DGFiP           | SPI `1111111111410`                  | 410, codeapp `4101` (no notice)
# DGFiP           | SPI `1111111111500`                  | 500, codeapp `5000`
# DGFiP           | SPI `1111111111504`                  | waits 30 s, then 500 (hanging upstream)
# DGFiP           | any other well-formed unknown SPI    | 410, codeapp `4102` (unknown SPI)
# API Particulier | `codeCogInseeCommuneNaissance=00404` | 404 `23003` (QF) / `25003` (MESRI)
# API Particulier | `codeCogInseeCommuneNaissance=00502` | 502 `23999` (QF) / `25999` (MESRI)
# API Particulier | `codeCogInseeCommuneNaissance=00504` | 504 `23002` / `25002` at once, retry 10
# BAN             | "99 IMP DES NULLE PART 23000 GUERET" | not found (the tax address of NOE)
#
# Generated fiscal numbers start with "3" and never with "1111111111".

# SPI → (HTTP status, codeapp)
FAILING_SPIS: Mapping[str, tuple[int, str]] = MappingProxyType(
    {
        "1111111111403": (403, "4031"),
        "1111111111410": (410, "4101"),
        "1111111111500": (500, "5000"),
    }
)
HANGING_SPI = "1111111111504"
HANG_S = 30.0
MAGIC_SPI_PREFIX = "1111111111"

# codeCogInseeCommuneNaissance → HTTP status; the error code depends on the provider.
FAILING_BIRTH_PLACES: Mapping[str, int] = MappingProxyType(
    {"00404": 404, "00502": 502, "00504": 504}
)
