"""`make vendor-graphiql`: GraphiQL's page assets, vendored from their npm releases into
citizen_graph/graphiql/static/vendor/ with a manifest of their sha256, so that the gateway
serves GraphiQL with no CDN.

Each package is fetched with `npm pack` (npm checks the tarball against the registry's
integrity), the files the page needs are copied out byte for byte, and `manifest.json`
records where each came from. `--check` downloads the same releases again and compares them
with the vendored files and the manifest without writing anything (exit 1 on a difference).

GraphiQL 4 is the last major release with a UMD build (5 is ESM only, with Monaco workers);
it needs React 18 or 19, and React 19 ships no UMD build, hence React 18.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "citizen_graph/graphiql/static/vendor"
MANIFEST = VENDOR / "manifest.json"


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    files: tuple[tuple[str, str], ...]  # (path in the tarball, vendored name)


PINS = (
    Pin(
        "react",
        "18.3.1",
        (
            ("umd/react.production.min.js", "react-18.3.1.min.js"),
            ("LICENSE", "react-18.3.1.LICENSE.txt"),
        ),
    ),
    Pin(
        "react-dom",
        "18.3.1",
        (
            ("umd/react-dom.production.min.js", "react-dom-18.3.1.min.js"),
            ("LICENSE", "react-dom-18.3.1.LICENSE.txt"),
        ),
    ),
    Pin(
        "graphiql",
        "4.1.2",
        (
            ("graphiql.min.js", "graphiql-4.1.2.min.js"),
            ("graphiql.min.css", "graphiql-4.1.2.min.css"),
            ("LICENSE", "graphiql-4.1.2.LICENSE.txt"),
        ),
    ),
)


def npm_pack(pin: Pin, into: Path) -> tuple[Path, str]:
    """The release's tarball, downloaded by npm, and its registry integrity."""
    spec = f"{pin.package}@{pin.version}"
    done = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(done.stdout)
    return into / packed["filename"], packed["integrity"]


def unpack(pin: Pin, tarball: Path) -> dict[str, bytes]:
    """The pinned files of one tarball, by vendored name (read by member name: nothing
    else of the archive is extracted)."""
    with tarfile.open(tarball) as archive:
        files = {}
        for inside, name in pin.files:
            member = archive.extractfile(f"package/{inside}")
            if member is None:
                raise SystemExit(f"{pin.package}: {inside} is not a file")
            files[name] = member.read()
    return files


def download() -> tuple[dict[str, object], dict[str, bytes]]:
    """The manifest and the files, as the pinned npm releases give them."""
    packages: list[dict[str, str]] = []
    files: dict[str, dict[str, object]] = {}
    contents: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        for pin in PINS:
            tarball, integrity = npm_pack(pin, Path(folder))
            packages.append(
                {"name": pin.package, "version": pin.version, "integrity": integrity}
            )
            for (inside, name), body in zip(
                pin.files, unpack(pin, tarball).values(), strict=True
            ):
                files[name] = {
                    "package": pin.package,
                    "path": inside,
                    "bytes": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }
                contents[name] = body
    manifest: dict[str, object] = {
        "generated_by": "scripts/vendor_graphiql.py (make vendor-graphiql)",
        "packages": packages,
        "files": files,
    }
    return manifest, contents


def write(manifest: dict[str, object], contents: dict[str, bytes]) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for stale in VENDOR.iterdir():
        if stale.name not in contents and stale != MANIFEST:
            stale.unlink()
    for name, body in contents.items():
        (VENDOR / name).write_bytes(body)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def differences(manifest: dict[str, object], contents: dict[str, bytes]) -> list[str]:
    """How the vendored files and manifest differ from the releases, empty when equal."""
    found = []
    if not MANIFEST.exists() or json.loads(MANIFEST.read_text()) != manifest:
        found.append(f"{MANIFEST.name} differs from the pinned releases")
    for name, body in contents.items():
        path = VENDOR / name
        if not path.exists() or path.read_bytes() != body:
            found.append(f"{name} differs from its npm release")
    extra = {p.name for p in VENDOR.iterdir()} - set(contents) - {MANIFEST.name}
    found.extend(f"{name} is not from a pinned release" for name in sorted(extra))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare, do not write (exit 1 on change)"
    )
    args = parser.parse_args(argv)
    manifest, contents = download()
    if args.check:
        found = differences(manifest, contents)
        for line in found:
            sys.stderr.write(f"{line}\n")
        if not found:
            sys.stdout.write(f"{len(contents)} files match their npm releases\n")
        return 1 if found else 0
    write(manifest, contents)
    for name, body in contents.items():
        sys.stdout.write(f"{name}  {len(body):>9} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
