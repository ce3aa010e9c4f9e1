"""``make demo``: the README's example, run for real against a registry this script starts.

It starts Debian's ``docker-registry`` on a free loopback port (plain HTTP, fresh storage), then runs
the ``dxf`` command exactly as a user would: push a file under an alias, pull it back by alias and by
digest, list the aliases and ask for the blob's size; then the air-gap round trip: ``dxf copy`` the
alias into an OCI layout directory and from there into another repository, and pull it back from
both. It prints each command and its output, checks that what came back is what went in, and stops
the registry.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.registry import harness_env, start_registry  # noqa: E402

REPO = "fred/datalogger"


def run(args: list[str], env: dict[str, str]) -> bytes:
    """Run one ``dxf`` command, echo it and its output, and return stdout."""
    print(f"$ {shlex.join(args)}")
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    if len(done.stdout) > 200:
        first_line = done.stdout.split(b"\n", 1)[0].decode("utf-8", "replace")
        print(f"{first_line}\n... ({len(done.stdout)} bytes in all)")
    elif done.stdout:
        print(done.stdout.decode("utf-8", "replace").rstrip("\n"))
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"demo: {args[1]} failed with exit code {done.returncode}")
    return done.stdout


def readings() -> bytes:
    """A few MiB of sensor readings, the kind of file people keep in a registry with dxf."""
    lines = [b"time,sensor,celsius\n"]
    for i in range(120_000):
        stamp = f"2026-05-15T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        lines.append(f"{stamp},s{i % 7},{20 + i % 97 / 10:.1f}\n".encode())
    return b"".join(lines)


def main() -> None:
    dxf = str(Path(sys.executable).with_name("dxf"))
    with tempfile.TemporaryDirectory(prefix="dxf-demo-") as tmp:
        work = Path(tmp)
        registry = start_registry("plain", work / "registry")
        try:
            env = {**os.environ, **harness_env(registry)}
            print(f"registry: docker-registry on {registry.url} (storage {registry.storage_dir})\n")
            data = readings()
            logger = work / "logger.dat"
            logger.write_bytes(data)

            digest = run([dxf, "push-blob", REPO, str(logger), "@may15-readings"], env).decode().strip()
            by_alias = run([dxf, "pull-blob", REPO, "@may15-readings"], env)
            by_digest = run([dxf, "pull-blob", REPO, digest], env)
            aliases = run([dxf, "list-aliases", REPO], env).decode().split()
            size = int(run([dxf, "blob-size", REPO, digest], env))
            run([dxf, "get-alias", REPO, "may15-readings"], env)

            assert by_alias == data, "pull by alias returned different bytes"
            assert by_digest == data, "pull by digest returned different bytes"
            assert aliases == ["may15-readings"], aliases
            assert size == len(data), size
            print(f"\nok: {len(data)} bytes pushed and pulled back intact, by alias and by digest\n")
            air_gap_round_trip(dxf, env, registry.host, work / "carried", data)
        finally:
            registry.stop()
            print("registry stopped")


def air_gap_round_trip(dxf: str, env: dict[str, str], host: str, layout: Path, data: bytes) -> None:
    """Registry -> OCI layout -> another repository, with the manifest digest the same at each step."""
    source = f"docker://{host}/{REPO}:may15-readings"
    carried = f"oci:{layout}:may15-readings"
    landed = f"docker://{host}/{REPO}-restored:may15-readings"
    first = run([dxf, "copy", source, carried], env).decode().strip()
    second = run([dxf, "copy", carried, landed], env).decode().strip()
    offline = {**env, "DXF_HOST": f"oci:{layout.parent}"}
    from_layout = run([dxf, "pull-blob", layout.name, "@may15-readings"], offline)
    restored = run([dxf, "pull-blob", REPO + "-restored", "@may15-readings"], env)
    assert first == second, (first, second)
    assert from_layout == data, "pull from the layout returned different bytes"
    assert restored == data, "pull from the restored repository returned different bytes"
    print(f"\nok: copied through the layout {layout} and back with manifest {first}, bytes intact")


if __name__ == "__main__":
    main()
