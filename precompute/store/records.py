"""Activation records of any framework, read, validated and aggregated in an in-memory DuckDB.

The SQL behind `python -m precompute import-records` lives here, beside the writer it feeds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa


class RecordsError(ValueError):
    """Bad record input; the message names the file, row and column."""


REQUIRED = ("stage", "token", "neuron", "activation")
OPTIONAL = ("pos", "seq_id", "position", "y_hat", "y", "rank")

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



class RecordSet:
    """Records loaded from CSV/CSV.GZ/Parquet files, validated, with per-stage aggregates."""

    def __init__(self, files: list[Path]):
        self.files = files
        self.con = duckdb.connect()
        self.columns = _load(self.con, files)
        _validate(self.con, self.columns)
        has = set(self.columns)
        self.weighted = {"y_hat", "y"} <= has
        pos_expr = "nullif(trim(pos), '')" if "pos" in has else "NULL::VARCHAR"
        self.con.execute(f"""
            CREATE TABLE rec AS SELECT
                stage, token, {pos_expr} AS pos,
                neuron::BIGINT AS neuron, activation::DOUBLE AS act,
                {'rank::BIGINT' if 'rank' in has else '0'} AS rank,
                {'seq_id::BIGINT' if 'seq_id' in has else 'NULL::BIGINT'} AS seq_id,
                {'position::BIGINT' if 'position' in has else 'NULL::BIGINT'} AS position,
                {'CASE WHEN y::INT = 1 THEN y_hat::DOUBLE WHEN y::INT = 0 THEN 1 - y_hat::DOUBLE END'
                 if self.weighted else 'NULL::DOUBLE'} AS w,
                _file, _row
            FROM raw""").fetchall()

    @property
    def stages(self) -> list[str]:
        """Stage names in first-appearance order (file order, then row order)."""
        return [r[0] for r in self.con.execute(
            "SELECT stage FROM rec GROUP BY stage ORDER BY min(_file), min(_row)").fetchall()]

    @property
    def n_neurons(self) -> int:
        return int(self.con.execute("SELECT max(neuron) + 1 FROM rec").fetchall()[0][0])

    @property
    def n_rows(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM rec").fetchall()[0][0])

    def stage_summary(self) -> dict[str, tuple[int, int, int, bool]]:
        """stage -> (tokens, silent tokens, top_k, has labels)."""
        return {r[0]: tuple(r[1:]) for r in self.con.execute("""
            SELECT stage, count(*) FILTER (WHERE rank = 0),
                   count(*) FILTER (WHERE rank = 0 AND act <= 0), max(rank) + 1, count(w) > 0
            FROM rec GROUP BY stage""").fetchall()}

    def feature_stats(self, stage: str) -> pa.Table:
        """One stage's aggregates per (neuron, token, pos), positive activations only."""
        return self.con.sql("""
            SELECT neuron, token, pos, count(*) AS n, sum(act) AS sum_act,
                   sum(act * w) AS sum_act_weighted
            FROM rec WHERE stage = ? AND act > 0 GROUP BY neuron, token, pos
            ORDER BY neuron, token, pos""", params=[stage]).to_arrow_table()

    def corpus_pos(self) -> pa.Table | None:
        """POS counts per stage (its own corpus), or None without a pos column."""
        if "pos" not in self.columns:
            return None
        return self.con.sql("""
            SELECT stage AS corpus, pos, count(*) AS count FROM rec
            WHERE rank = 0 AND pos IS NOT NULL GROUP BY stage, pos""").to_arrow_table()

    def contexts(self, per_neuron: int) -> pa.Table | None:
        """Top activating positions per (stage, neuron), or None without seq_id/position."""
        if not {"seq_id", "position"} <= set(self.columns) or per_neuron <= 0:
            return None
        return self.con.sql("""
            SELECT stage, neuron, (rank - 1)::INTEGER AS rank, seq_id, position, token, act FROM (
                SELECT stage, neuron, seq_id, position, token, act,
                       row_number() OVER (PARTITION BY stage, neuron
                                          ORDER BY act DESC, seq_id, position) AS rank
                FROM rec WHERE act > 0) WHERE rank <= ?
            ORDER BY stage, neuron, rank""", params=[per_neuron]).to_arrow_table()


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
            raise RecordsError(f"{f}: cannot be read as records ({str(e).splitlines()[0]})") from None
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise RecordsError(f"{f}: missing required column {missing[0]!r} (found: {', '.join(cols)})")
        if ("y_hat" in cols) != ("y" in cols):
            raise RecordsError(f"{f}: has only one of 'y_hat' and 'y'; task weighting needs both")
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
        raise RecordsError(f"{files[0] if len(files) == 1 else files[0].parent}: no records (empty input)")
    return [c for c in every if c in present]


def _validate(con: duckdb.DuckDBPyConnection, columns: list[str]) -> None:
    """Raise RecordsError naming the first bad file/row/column."""
    for col in ("stage", "token"):
        bad = con.execute(
            f"SELECT _file, _row FROM raw WHERE {col} IS NULL OR trim({col}) = '' "
            "ORDER BY _file, _row LIMIT 1"
        ).fetchall()
        if bad:
            raise RecordsError(f"{bad[0][0]} row {bad[0][1]}: column {col!r} is empty")
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
            raise RecordsError(f"{f} row {row}: column {col!r} is {shown}, expected {what}")
