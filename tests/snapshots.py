"""Syrupy extensions: the SDL as one .graphql file; JSON responses with volatile ids masked."""

from __future__ import annotations

import json
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class GraphQLSnapshot(SingleFileSnapshotExtension):
    file_extension = "graphql"
    _write_mode = WriteMode.TEXT


class JsonSnapshot(SingleFileSnapshotExtension):
    file_extension = "json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        return (
            json.dumps(normalise(data), indent=2, ensure_ascii=False, sort_keys=True)
            + "\n"
        )


VOLATILE = {"id", "requestId"}


def normalise(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: "<volatile>" if k in VOLATILE else normalise(v) for k, v in data.items()
        }
    if isinstance(data, list):
        return [normalise(v) for v in data]
    return data
