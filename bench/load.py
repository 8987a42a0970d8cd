"""A closed-loop HTTP/1.1 load generator (wrk's model, in asyncio): `concurrency` keep-alive
connections, each sending its next request as soon as it has read the previous answer.

Raw sockets rather than httpx, whose 1.5–5 ms of CPU per request would, on two cores, take
CPU from the gateways under test. Each request body is built from its index, so that every
request can ask for fresh citizens.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Body = Callable[[int], bytes]  # request index → JSON body
Judge = Callable[[int, bytes], int]  # status, body → errors in the answer


@dataclass(frozen=True)
class Load:
    concurrency: int
    duration_s: float
    max_requests: int  # e.g. as many as there are fresh citizens


@dataclass
class Outcome:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    complete: int = 0  # answers without any error
    wall_s: float = 0.0


async def run(
    url: str, headers: Mapping[str, str], body: Body, judge: Judge, load: Load
) -> Outcome:
    """POST to `url` until `load.duration_s` has passed or `max_requests` were sent, then
    wait for the answers in flight: every request sent is counted."""
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    head = (
        f"POST {target.path or '/'} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        "Content-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    ).encode()
    indexes = itertools.count()
    outcome = Outcome()
    deadline = time.perf_counter() + load.duration_s

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in indexes:
                if i >= load.max_requests or time.perf_counter() > deadline:
                    return
                payload = body(i)
                started = time.perf_counter()
                writer.write(
                    head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload
                )
                status, answer, keep_alive = await _response(reader)
                outcome.latencies_s.append(time.perf_counter() - started)
                errors = judge(status, answer)
                outcome.errors += errors
                outcome.complete += errors == 0
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(load.concurrency)))
    outcome.wall_s = time.perf_counter() - started
    return outcome


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip().lower()
    if "content-length" in fields:
        answer = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding") == "chunked":
        answer = await _chunked(reader)
    else:
        return status, await reader.read(), False
    return status, answer, fields.get("connection") != "close"


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()  # the empty trailer
    return b"".join(parts)
