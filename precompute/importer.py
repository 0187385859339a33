"""`import-records`: build an analysis database from activation records of any framework.

Records are CSV (optionally gzipped) or Parquet files, or a folder of them, with columns
``stage, token, neuron, activation`` and optional ``pos, seq_id, position, y_hat, y, rank``.
One row per token position (and per rank for top-k records). Validation happens before anything
is written: a bad input gets a one-line error naming the file, row and column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from precompute.cli import UserError
from precompute.store import VARIANTS, AnalysisWriter, default_pairs
from precompute.store.records import RecordSet, RecordsError

_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("records", help="CSV/CSV.GZ/Parquet file, or a folder of them")
    p.add_argument("--out", required=True, help="analysis database to write (.duckdb)")
    p.add_argument("--compare", action="append", default=None, metavar="A:B",
                   help="stage pair to compare (repeatable); default: every ordered pair in "
                        "first-appearance order")
    p.add_argument("--variant", action="append", choices=VARIANTS, default=None,
                   help="distance variant(s) to store (repeatable; default: paper)")
    p.add_argument("--contexts", type=int, default=10,
                   help="top activating positions kept per neuron (needs seq_id, position)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def run_from_args(args: argparse.Namespace) -> int:
    summary = import_records(
        args.records, args.out, compare=_parse_pairs(args.compare),
        variants=tuple(args.variant or ("paper",)), contexts=args.contexts, force=args.force,
    )
    print(
        f"wrote {args.out}: {len(summary['stages'])} stages ({', '.join(summary['stages'])}), "
        f"{summary['rows']} records, {summary['n_neurons']} neurons, "
        f"{len(summary['pairs'])} comparisons"
    )
    return 0


def _parse_pairs(specs: list[str] | None) -> list[tuple[str, str]] | None:
    if not specs:
        return None
    pairs = []
    for spec in specs:
        a, sep, b = spec.partition(":")
        if not sep or not a or not b:
            raise UserError(f"--compare {spec!r}: expected STAGE_A:STAGE_B")
        pairs.append((a, b))
    return pairs


def find_files(path: str | Path) -> list[Path]:
    """The record files at `path` (a file, or the matching files of a folder, sorted)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(_SUFFIXES))
        if not files:
            raise UserError(f"{p}: folder holds no .csv, .csv.gz or .parquet files")
        return files
    raise UserError(f"{p}: no such file or folder")


def import_records(
    records: str | Path,
    out: str | Path,
    *,
    compare: list[tuple[str, str]] | None = None,
    variants: tuple[str, ...] = ("paper",),
    contexts: int = 10,
    force: bool = False,
) -> dict:
    """Validate, aggregate and store records; returns a small summary dict."""
    files = find_files(records)
    try:
        rs = RecordSet(files)
    except RecordsError as e:
        raise UserError(str(e)) from None
    stages = rs.stages
    if compare is not None:
        for a, b in compare:
            for s in (a, b):
                if s not in stages:
                    raise UserError(f"--compare: unknown stage {s!r}; stages in the records: "
                                    f"{', '.join(stages)}")
    n_neurons = rs.n_neurons
    summary = rs.stage_summary()
    with AnalysisWriter(out, force=force) as w:
        w.set_meta(config={"source": "import-records", "files": [str(f) for f in files],
                           "variants": list(variants), "contexts": contexts})
        for s in stages:
            n_tok, n_silent, top_k, labelled = summary[s]
            w.add_stage(s, kind="imported", n_neurons=n_neurons, n_tokens=n_tok,
                        n_silent=n_silent, feature_stats=rs.feature_stats(s), top_k=top_k,
                        corpus=s, has_labels=labelled)
        for table, rows in (("corpus_pos", rs.corpus_pos()), ("contexts", rs.contexts(contexts))):
            if rows is not None:
                w.add_rows(table, rows)
        w.compute_measures(compare, variants=variants)
    pairs = compare if compare is not None else default_pairs(stages)
    return {"stages": stages, "pairs": pairs, "n_neurons": n_neurons, "rows": rs.n_rows}
