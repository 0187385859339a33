"""Serve the TX-Ray Explorer dashboard: `python app.py [--db FILE] [--host H] [--port P]`.

With the default database missing, the demo analysis is built first
(`python -m precompute run --preset demo`, progress shown in the terminal).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

DEFAULT_DB = Path("data/demo.duckdb")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB,
                        help=f"analysis database to serve (default {DEFAULT_DB}; built if absent)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    return parser


def demo_command(db: Path) -> list[str]:
    """The command that builds the demo analysis into `db`."""
    return [sys.executable, "-m", "precompute", "run", "--preset", "demo", "--out", str(db)]


def ensure_database(db: Path, *, build: list[str] | None = None) -> int:
    """0 if `db` exists (building the default demo first when it is missing, with `build` or
    `demo_command(db)`; its progress goes straight to the terminal), else an exit code."""
    if db.exists():
        return 0
    if db != DEFAULT_DB:
        print(f"error: no analysis database at {db}. Build one with "
              f"`python -m precompute run --preset demo --out {db}` or omit --db to use the demo",
              file=sys.stderr)
        return 2
    print(f"No database at {db}: building the demo analysis first (takes a few minutes)...",
          flush=True)
    cmd = build or demo_command(db)
    rc = subprocess.call(cmd)
    if rc != 0 or not db.exists():
        print(f"error: building the demo database failed (exit code {rc}); run `{' '.join(cmd)}` "
              "to see the full output", file=sys.stderr)
        return rc or 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rc = ensure_database(args.db)
    if rc:
        return rc
    from txray_dash import create_app
    from txray_dash.security import warn_if_exposed

    app = create_app(args.db)
    warn_if_exposed(args.host)
    print(f"TX-Ray Explorer: serving {args.db} on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
