"""The simulated State: DGFiP, API Particulier v3 and BAN over their real HTTP protocols."""

from __future__ import annotations

from citizen_graph.sandbox.app import DEFAULT_SEED, Sandbox, create_sandbox_app
from citizen_graph.sandbox.latency import PROFILES as LATENCY_PROFILES

# `create_sandbox_app()` builds one Starlette app serving `/dgfip`, `/api-particulier`, `/ban`
# and `/_sandbox` from a fixed-seed fictitious population; `registry.py` lists the simulated
# upstreams (and says how to add one). Nothing here imports the gateway.
# Fixed citizens: `fixed.py`; magic values that trigger upstream errors: `magic.py`.

__all__ = ["DEFAULT_SEED", "LATENCY_PROFILES", "Sandbox", "create_sandbox_app"]
