"""`import-records`: build an analysis database from activation records of any framework.

Records are CSV (optionally gzipped) or Parquet files, or a folder of them, with columns
``stage, token, neuron, activation`` and optional ``pos, seq_id, position, y_hat, y, rank``.
One row per token position (and per rank for top-k records). Validation happens before anything
is written: a bad input gets a one-line error naming the file, row and column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from precompute.cli import UserError
from precompute.store import VARIANTS, AnalysisWriter

REQUIRED = ("stage", "token", "neuron", "activation")
OPTIONAL = ("pos", "seq_id", "position", "y_hat", "y", "rank")
_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")

# (column, SQL type, check that must hold for a non-null value, description of the rule)
_CHECKS = (
    ("activation", "DOUBLE", "isfinite(v)", "a finite number"),
    ("neuron", "BIGINT", "v >= 0", "a non-negative integer"),
    ("seq_id", "BIGINT", "true", "an integer"),
    ("position", "BIGINT", "v >= 0", "a non-negative integer"),
    ("rank", "BIGINT", "v >= 0", "a non-negative integer"),
    ("y_hat", "DOUBLE", "v >= 0 AND v <= 1", "a probability in [0, 1]"),
    ("y", "BIGINT", "v IN (0, 1)", "a label 0 or 1"),
)


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


def _load(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[str]:
    """Load every file into table `raw` (text columns + file/row provenance); return the columns
    present in any file (optional columns missing from a file are NULL for its rows)."""
    every = REQUIRED + OPTIONAL
    con.execute("CREATE TABLE raw (_file VARCHAR, _row BIGINT, "
                + ", ".join(f"{c} VARCHAR" for c in every) + ")").fetchall()
    present: set[str] = set()
    for f in files:
        if f.name.endswith((".parquet", ".pq")):
            src = "read_parquet(?)"
        else:
            src = "read_csv(?, header = true, all_varchar = true)"
        try:
            cols = [c.lower() for c in con.sql(f"SELECT * FROM {src}", params=[str(f)]).columns]
        except duckdb.Error as e:
            raise UserError(f"{f}: cannot be read as records ({str(e).splitlines()[0]})") from None
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise UserError(f"{f}: missing required column {missing[0]!r} (found: {', '.join(cols)})")
        if ("y_hat" in cols) != ("y" in cols):
            raise UserError(f"{f}: has only one of 'y_hat' and 'y'; task weighting needs both")
        keep = [c for c in every if c in cols]
        present.update(keep)
        con.execute(
            f"INSERT INTO raw (_file, _row, {', '.join(keep)}) "
            f"SELECT ?, row_number() OVER (), "
            + ", ".join(f'CAST("{c}" AS VARCHAR)' for c in keep) + f" FROM {src}",
            [f.name, str(f)],
        ).fetchall()
    n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    if n == 0:
        raise UserError(f"{files[0] if len(files) == 1 else files[0].parent}: no records (empty input)")
    return [c for c in every if c in present]


def _validate(con: duckdb.DuckDBPyConnection, columns: list[str]) -> None:
    """Raise UserError naming the first bad file/row/column."""
    for col in ("stage", "token"):
        bad = con.execute(
            f"SELECT _file, _row FROM raw WHERE {col} IS NULL OR trim({col}) = '' "
            "ORDER BY _file, _row LIMIT 1"
        ).fetchall()
        if bad:
            raise UserError(f"{bad[0][0]} row {bad[0][1]}: column {col!r} is empty")
    for col, typ, rule, what in _CHECKS:
        if col not in columns:
            continue
        required = col in REQUIRED
        bad = con.execute(
            f"SELECT _file, _row, {col} FROM ("
            f"  SELECT _file, _row, {col}, TRY_CAST({col} AS {typ}) AS v FROM raw) "
            f"WHERE ({col} IS NULL AND {required}) "
            f"   OR ({col} IS NOT NULL AND (v IS NULL OR NOT ({rule}))) "
            "ORDER BY _file, _row LIMIT 1"
        ).fetchall()
        if bad:
            f, row, value = bad[0]
            shown = "empty" if value is None else f"{value!r}"
            raise UserError(f"{f} row {row}: column {col!r} is {shown}, expected {what}")


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
    con = duckdb.connect()
    columns = _load(con, files)
    _validate(con, columns)
    has = set(columns)
    weighted = {"y_hat", "y"} <= has
    pos_expr = "nullif(trim(pos), '')" if "pos" in has else "NULL::VARCHAR"
    con.execute(f"""
        CREATE TABLE rec AS SELECT
            stage, token, {pos_expr} AS pos,
            neuron::BIGINT AS neuron, activation::DOUBLE AS act,
            {'rank::BIGINT' if 'rank' in has else '0'} AS rank,
            {'seq_id::BIGINT' if 'seq_id' in has else 'NULL::BIGINT'} AS seq_id,
            {'position::BIGINT' if 'position' in has else 'NULL::BIGINT'} AS position,
            {'CASE WHEN y::INT = 1 THEN y_hat::DOUBLE WHEN y::INT = 0 THEN 1 - y_hat::DOUBLE END'
             if weighted else 'NULL::DOUBLE'} AS w,
            _file, _row
        FROM raw""").fetchall()
    stages = [r[0] for r in con.execute(
        "SELECT stage FROM rec GROUP BY stage ORDER BY min(_file), min(_row)").fetchall()]
    if compare is not None:
        for a, b in compare:
            for s in (a, b):
                if s not in stages:
                    raise UserError(f"--compare: unknown stage {s!r}; stages in the records: "
                                    f"{', '.join(stages)}")
    n_neurons = con.execute("SELECT max(neuron) + 1 FROM rec").fetchall()[0][0]
    stage_rows = {r[0]: r[1:] for r in con.execute("""
        SELECT stage, count(*) FILTER (WHERE rank = 0), count(*) FILTER (WHERE rank = 0 AND act <= 0),
               max(rank) + 1, count(w) > 0
        FROM rec GROUP BY stage""").fetchall()}
    with AnalysisWriter(out, force=force) as w:
        w.set_meta(config={"source": "import-records", "files": [str(f) for f in files],
                           "variants": list(variants), "contexts": contexts})
        for s in stages:
            n_tok, n_silent, top_k, labelled = stage_rows[s]
            fs = con.sql("""
                SELECT neuron, token, pos, count(*) AS n, sum(act) AS sum_act,
                       sum(act * w) AS sum_act_weighted
                FROM rec WHERE stage = ? AND act > 0 GROUP BY neuron, token, pos
                ORDER BY neuron, token, pos""",
                params=[s]).to_arrow_table()
            w.add_stage(s, kind="imported", n_neurons=n_neurons, n_tokens=n_tok,
                        n_silent=n_silent, feature_stats=fs, top_k=top_k, corpus=s,
                        has_labels=labelled)
        if "pos" in has:
            w.add_rows("corpus_pos", con.sql("""
                SELECT stage AS corpus, pos, count(*) AS count FROM rec
                WHERE rank = 0 AND pos IS NOT NULL GROUP BY stage, pos""").to_arrow_table())
        if {"seq_id", "position"} <= has and contexts > 0:
            w.add_rows("contexts", con.sql("""
                SELECT stage, neuron, (rank - 1)::INTEGER AS rank, seq_id, position, token, act FROM (
                    SELECT stage, neuron, seq_id, position, token, act,
                           row_number() OVER (PARTITION BY stage, neuron
                                              ORDER BY act DESC, seq_id, position) AS rank
                    FROM rec WHERE act > 0) WHERE rank <= ?
                ORDER BY stage, neuron, rank""", params=[contexts]).to_arrow_table())
        w.compute_measures(compare, variants=variants)
        pairs = compare if compare is not None else [
            (a, b) for i, a in enumerate(stages) for b in stages[i + 1:]]
        rows = con.execute("SELECT count(*) FROM rec").fetchall()[0][0]
    return {"stages": stages, "pairs": pairs, "n_neurons": n_neurons, "rows": rows}
