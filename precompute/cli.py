"""Command line: `python -m precompute {run,import-records} ...`."""

from __future__ import annotations

import argparse
import sys

from precompute import __version__
from precompute.store import DatabaseExistsError


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precompute",
        description="TX-Ray precompute: record, aggregate and compare neuron activations "
                    "into a DuckDB analysis file for the TX-Ray Explorer dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    from precompute import pipeline

    run = sub.add_parser("run", help="train/load encoders on WikiText-2 and IMDB and analyse them "
                                     "(the paper's RQ1-RQ3)")
    pipeline.add_arguments(run)
    run.set_defaults(func=pipeline.run_from_args)

    from precompute import importer

    imp = sub.add_parser(
        "import-records",
        help="build an analysis file from activation records of any framework (CSV/Parquet)",
        description="Build an analysis database from records with columns stage, token, neuron, "
                    "activation and optional pos, seq_id, position, y_hat, y.",
    )
    importer.add_arguments(imp)
    imp.set_defaults(func=importer.run_from_args)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, DatabaseExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no database was written (temporary files removed)", file=sys.stderr)
        return 130
