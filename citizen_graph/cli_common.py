"""What the console script's modules share: failing with one line, and the settings."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from citizen_graph.settings import Settings, settings_from_environment


def settings_for(config: str | None) -> Settings:
    """The settings of `--config FILE`, else of the environment."""
    if not config:
        return settings_from_environment()
    return settings_from_environment({**os.environ, "CITIZEN_GRAPH_CONFIG": config})


def fail(message: str) -> NoReturn:
    print(f"citizen-graph: {message}", file=sys.stderr)
    sys.exit(1)
