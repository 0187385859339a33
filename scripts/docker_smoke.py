#!/usr/bin/env python3
"""Smoke test of the Docker image: build, run, and check it serves the dashboard safely.

    python3 scripts/docker_smoke.py                                   # docker or podman, demo DB
    python3 scripts/docker_smoke.py --base-image localhost/python-base:3.11-bookworm \\
        --data-dir /work/shared/data                                  # offline host (podman)
    python3 scripts/docker_smoke.py --db data/demo.duckdb             # bake a ready database
    python3 scripts/docker_smoke.py --no-build --mount-db data/demo.duckdb   # serve from a volume
    python3 scripts/docker_smoke.py --context /tmp/export   # build a `git archive` export

Checks: the container becomes healthy (its HEALTHCHECK), runs as non-root without torch, /healthz
answers without credentials, the page needs credentials (none and a wrong password -> 401, the
right one -> 200 Dash page, debug off), one Dash callback POST returns 200 with data, and a start
without auth warns about the exposed port. Prints the image size and the container's memory use
while serving. Exit code 0 when every check passed. Standard library only; slow (builds an image),
so not part of the default test run.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
CONTAINER_PORT = 8050
AUTH_USER = "smoke"


# Run inside the container: [number of gunicorn processes, summed PSS KiB, summed RSS KiB].
GUNICORN_PROCS = """
import glob, json, re
n = pss = rss = 0
for d in glob.glob('/proc/[0-9]*'):
    try:
        argv = open(d + '/cmdline', 'rb').read().split(b'\\0')
        if not any(a.endswith(b'/gunicorn') for a in argv):
            continue
        text = open(d + '/smaps_rollup').read()
    except OSError:
        continue
    n += 1
    pss += int(re.search(r'^Pss:\\s+(\\d+)', text, re.M)[1])
    rss += int(re.search(r'^Rss:\\s+(\\d+)', text, re.M)[1])
print(json.dumps([n, pss, rss]))
"""


class SmokeError(Exception):
    """A check failed; the message says which and what was seen."""


def log(msg: str) -> None:
    print(msg, flush=True)


def pick_engine(requested: str | None) -> str:
    """docker when its engine answers, else podman (or the one requested)."""
    if requested:
        if shutil.which(requested) is None:
            raise SmokeError(f"{requested} not found on PATH")
        return requested
    if shutil.which("docker") and subprocess.run(
            ["docker", "info"], capture_output=True, timeout=30).returncode == 0:
        return "docker"
    if shutil.which("podman"):
        return "podman"
    raise SmokeError("no container engine: install docker, or podman + runc "
                     "(README, 'Share with collaborators')")


def run(cmd: list[str], *, timeout: float = 120, check: bool = True,
        stream: bool = False) -> subprocess.CompletedProcess:
    if stream:
        proc = subprocess.run(cmd, timeout=timeout)
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        detail = "" if stream else f"\n{proc.stdout}\n{proc.stderr}"
        raise SmokeError(f"command failed ({proc.returncode}): {' '.join(cmd)}{detail}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, *, auth: tuple[str, str] | None = None,
         body: Any = None, timeout: float = 60) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def build_image(engine: str, args: argparse.Namespace) -> None:
    cmd = [engine, "build", "--tag", args.image]
    if engine == "podman":
        cmd += ["--format", "docker"]  # OCI images drop HEALTHCHECK
    if args.base_image:
        cmd += ["--build-arg", f"BASE_IMAGE={args.base_image}"]
    if args.data_dir:
        cmd += ["--build-context", f"data={Path(args.data_dir).resolve()}"]
    staging = None
    if args.db:
        staging = tempfile.mkdtemp(prefix="txray-smoke-db-")
        shutil.copyfile(args.db, Path(staging) / "analysis.duckdb")
        cmd += ["--build-arg", "ANALYSIS=db", "--build-context", f"db={staging}"]
    cmd.append(str(Path(args.context).resolve()))
    log(f"$ {' '.join(cmd)}")
    t0 = time.monotonic()
    try:
        run(cmd, timeout=args.build_timeout, stream=True)
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    log(f"built {args.image} in {time.monotonic() - t0:.0f} s")


def wait_healthy(engine: str, name: str, url: str, timeout: float) -> float:
    """Seconds until the container's own HEALTHCHECK passes (and /healthz answers here)."""
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < timeout:
        state = run([engine, "inspect", "--format", "{{.State.Status}}", name], check=False)
        if state.stdout.strip() not in ("running", "created", "starting", ""):
            logs = run([engine, "logs", name], check=False)
            raise SmokeError(f"container stopped ({state.stdout.strip()}):\n"
                             f"{logs.stdout}{logs.stderr}")
        if engine == "podman":
            healthy = run([engine, "healthcheck", "run", name], check=False).returncode == 0
        else:
            status = run([engine, "inspect", "--format", "{{.State.Health.Status}}", name],
                         check=False).stdout.strip()
            healthy, last = status == "healthy", status
        if healthy:
            try:
                if http("GET", url, timeout=5)[0] == 200:
                    return time.monotonic() - t0
            except OSError as e:
                last = str(e)
        time.sleep(1)
    raise SmokeError(f"not healthy after {timeout:.0f} s (last: {last or 'healthcheck failing'})")


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        if "props" in node and isinstance(node["props"], dict):
            yield node["props"]
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _split_prop(spec: str) -> dict[str, str]:
    ident, prop = spec.rsplit(".", 1)
    return {"id": ident, "property": prop.split("@", 1)[0]}


def callback_payloads(layout: Any, deps: list[dict]) -> Iterator[tuple[str, dict]]:
    """(output, request body) for each server-side callback, inputs taken from the layout."""
    props = {p["id"]: p for p in _walk(layout) if isinstance(p.get("id"), str)}
    for dep in deps:
        ids = [d["id"] for d in dep.get("inputs", []) + dep.get("state", [])]
        if dep.get("clientside_function") or not dep.get("inputs") \
                or any(not isinstance(i, str) or i.startswith("{") for i in ids):
            continue
        output = dep["output"]
        if output.startswith(".."):
            outputs: Any = [_split_prop(o) for o in output.strip(".").split("...")]
        else:
            outputs = _split_prop(output)

        def values(items: list[dict]) -> list[dict]:
            return [{"id": d["id"], "property": d["property"],
                     "value": props.get(d["id"], {}).get(d["property"])} for d in items]

        inputs = values(dep["inputs"])
        yield output, {"output": output, "outputs": outputs, "inputs": inputs,
                       "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
                       "state": values(dep.get("state", []))}


def check_callback(base: str, auth: tuple[str, str]) -> str:
    """POST one real callback; returns which one answered 200 with data."""
    status, body = http("GET", f"{base}/_dash-layout", auth=auth)
    if status != 200:
        raise SmokeError(f"/_dash-layout answered {status}")
    layout = json.loads(body)
    status, body = http("GET", f"{base}/_dash-dependencies", auth=auth)
    if status != 200:
        raise SmokeError(f"/_dash-dependencies answered {status}")
    deps = json.loads(body)
    seen = []
    for output, payload in callback_payloads(layout, deps):
        status, body = http("POST", f"{base}/_dash-update-component", auth=auth, body=payload)
        seen.append(f"{output}: {status}")
        if status == 200:
            data = json.loads(body)
            if data.get("response"):
                return f"{output[:70]} -> 200, {len(body)} bytes of data"
    raise SmokeError(f"no callback answered 200 with data ({len(deps)} callbacks; "
                     f"tried: {'; '.join(seen) or 'none usable'})")


def memory_use(engine: str, name: str) -> str:
    """The container's memory use: engine stats, cgroup counter and summed PSS of its processes."""
    parts = []
    stats = run([engine, "stats", "--no-stream", "--format", "{{.MemUsage}}", name],
                check=False, timeout=60)
    if stats.returncode == 0 and stats.stdout.strip():
        parts.append(f"{engine} stats: {stats.stdout.strip()}")
    cgroup = run([engine, "exec", name, "sh", "-c",
                  "cat /sys/fs/cgroup/memory.current 2>/dev/null || "
                  "cat /sys/fs/cgroup/memory/memory.usage_in_bytes"], check=False)
    if cgroup.returncode == 0 and cgroup.stdout.strip().isdigit():
        parts.append(f"cgroup: {int(cgroup.stdout) / 2**20:.0f} MiB")
    procs = run([engine, "exec", name, "python", "-c", GUNICORN_PROCS], check=False)
    if procs.returncode == 0:
        n, pss, rss = json.loads(procs.stdout)
        parts.append(f"{n} gunicorn processes: PSS {pss / 1024:.0f} MiB (RSS {rss / 1024:.0f} MiB)")
    return "; ".join(parts) or "unavailable"


def smoke(engine: str, args: argparse.Namespace) -> list[str]:
    results: list[str] = []

    def ok(msg: str) -> None:
        results.append(msg)
        log(f"PASS {msg}")

    if not args.no_build:
        build_image(engine, args)
    password = secrets.token_urlsafe(16)
    auth = (AUTH_USER, password)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    name = f"txray-smoke-{secrets.token_hex(4)}"
    cmd = [engine, "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}",
           "--env", f"TXRAY_AUTH_USER={AUTH_USER}", "--env", f"TXRAY_AUTH_PASSWORD={password}",
           "--env", f"TXRAY_WORKERS={args.workers}", "--read-only", "--tmpfs", "/tmp"]
    if args.mount_db:
        db = Path(args.mount_db).resolve()
        cmd += ["--volume", f"{db}:/data/analysis.duckdb:ro"]
    run(cmd + [args.image])
    try:
        took = wait_healthy(engine, name, f"{base}/healthz", args.health_timeout)
        ok(f"container healthy after {took:.0f} s (HEALTHCHECK passes)")

        status, body = http("GET", f"{base}/healthz")
        health = json.loads(body)
        expected_db = "/data/analysis.duckdb" if args.mount_db else "/opt/txray/analysis.duckdb"
        if status != 200 or health.get("status") != "ok" or health.get("db") != expected_db:
            raise SmokeError(f"/healthz without credentials: {status} {body[:300]!r}")
        ok(f"/healthz open: 200, db {health['db']}, {len(health.get('stages', []))} stages")

        uid = run([engine, "exec", name, "id", "-u"]).stdout.strip()
        if uid == "0":
            raise SmokeError("the server runs as root")
        torch = run([engine, "exec", name, "python", "-c",
                     "import importlib.util as u; print(u.find_spec('torch') is not None)"])
        if torch.stdout.strip() != "False":
            raise SmokeError("torch is installed in the final image")
        n_procs = json.loads(run([engine, "exec", name, "python", "-c", GUNICORN_PROCS]).stdout)[0]
        if n_procs != args.workers + 1:
            raise SmokeError(f"{n_procs} gunicorn processes, expected {args.workers} workers + 1")
        ok(f"runs as uid {uid}, no torch in the image, gunicorn master + {args.workers} workers")

        for label, creds in (("no credentials", None), ("wrong password", (AUTH_USER, "wrong"))):
            status, _ = http("GET", f"{base}/", auth=creds)
            if status != 401:
                raise SmokeError(f"GET / with {label} answered {status}, expected 401")
        status, _ = http("POST", f"{base}/_dash-update-component", body={})
        if status != 401:
            raise SmokeError(f"callback POST without credentials answered {status}, expected 401")
        ok("auth rejects missing and wrong credentials: 401 (page and callback)")

        status, body = http("GET", f"{base}/", auth=auth)
        page = body.decode("utf-8", "replace")
        if status != 200 or "_dash-config" not in page or "TX-Ray Explorer" not in page:
            raise SmokeError(f"GET / with the right password: {status} {page[:300]!r}")
        config = json.loads(re.search(r'id="_dash-config"[^>]*>(.*?)</script>', page, re.S)[1])
        if config.get("ui") or config.get("props_check") or config.get("hot_reload"):
            raise SmokeError(f"Dash dev tools are on in the image: {config}")
        ok(f"GET / with the right password: 200, Dash page ({len(body)} bytes), debug off")

        ok(f"callback POST /_dash-update-component: {check_callback(base, auth)}")

        warn = run([engine, "run", "--rm", "--env", "TXRAY_AUTH_USER=", "--env",
                    "TXRAY_AUTH_PASSWORD=", args.image, "python", "-c",
                    "import wsgi; wsgi.create_dash_app()"], check=False)
        warning = [line for line in warn.stderr.splitlines() if line.startswith("warning:")]
        if not warning or "TXRAY_AUTH_PASSWORD" not in warning[0]:
            raise SmokeError(f"no exposure warning without auth: {warn.stderr[-500:]!r}")
        ok(f"without auth the container warns: {warning[0][:100]}...")

        for _ in range(args.load_requests):
            http("GET", f"{base}/", auth=auth)
            check_callback(base, auth)
        size = int(run([engine, "image", "inspect", "--format", "{{.Size}}", args.image])
                   .stdout.strip())
        results.append(f"image size: {size / 1e6:.0f} MB ({size} bytes)")
        results.append(f"memory while serving ({args.workers} workers, after "
                       f"{args.load_requests} page+callback rounds): {memory_use(engine, name)}")
        for line in results[-2:]:
            log(f"INFO {line}")
    except BaseException:
        logs = run([engine, "logs", name], check=False)
        log(f"--- container logs ---\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        raise
    finally:
        if not args.keep:
            run([engine, "rm", "--force", name], check=False, timeout=60)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["docker", "podman"], help="default: docker if its "
                        "engine answers, else podman")
    parser.add_argument("--image", default="localhost/txray-explorer:smoke")
    parser.add_argument("--base-image", help="BASE_IMAGE build argument "
                        "(e.g. localhost/python-base:3.11-bookworm from scripts/build_base_image.sh)")
    parser.add_argument("--data-dir", help="datasets for the demo build (build context `data`)")
    parser.add_argument("--db", help="bake this analysis database instead of building the demo")
    parser.add_argument("--mount-db", help="serve this database from a read-only volume")
    parser.add_argument("--no-build", action="store_true", help="test an already built --image")
    parser.add_argument("--context", default=str(REPO), help="build context (default: this "
                        "checkout; e.g. a `git archive` export to build exactly one commit)")
    parser.add_argument("--port", type=int, default=0, help="host port (default: a free one)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--load-requests", type=int, default=5,
                        help="page+callback rounds before measuring memory")
    parser.add_argument("--build-timeout", type=float, default=3600)
    parser.add_argument("--health-timeout", type=float, default=120)
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    args = parser.parse_args(argv)
    try:
        engine = pick_engine(args.engine)
        log(f"engine: {engine} ({run([engine, '--version']).stdout.strip()})")
        results = smoke(engine, args)
    except (SmokeError, subprocess.TimeoutExpired) as e:
        log(f"FAIL {e}")
        return 1
    log("SMOKE TEST PASSED")
    for line in results:
        log(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
