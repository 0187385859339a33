"""The analysis database: DuckDB schema, atomic writer, and derived measures.

The schema is the only interface between the precompute stage and the dashboard; it is
documented in docs/DATABASE.md. `add_stage` turns a stage's feature_stats into distributions and
neuron stats (numpy, see precompute.measures) over feature ids shared by all stages of the
writer; `compute_measures` compares stage pairs. A writer builds into a temporary file next to the target and
`os.replace`s it into place only on success, so a crash never leaves a half-written database.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from precompute import __version__
from precompute import measures
from precompute.measures import VARIANTS, Distribution

SCHEMA_VERSION = 1

FEATURE_KINDS = ("token", "pos")
STAGE_KINDS = ("pretrain", "zero_shot", "supervised", "imported")

DDL = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE stages (
    stage VARCHAR PRIMARY KEY, ord INTEGER NOT NULL, kind VARCHAR NOT NULL,
    model VARCHAR, checkpoint VARCHAR, corpus VARCHAR, epoch INTEGER, layer VARCHAR,
    n_neurons INTEGER NOT NULL, top_k INTEGER NOT NULL DEFAULT 1,
    n_tokens BIGINT NOT NULL, n_silent BIGINT NOT NULL, has_pos BOOLEAN NOT NULL,
    has_labels BOOLEAN NOT NULL);
CREATE TABLE feature_stats (
    stage VARCHAR NOT NULL, neuron INTEGER NOT NULL, token VARCHAR NOT NULL, pos VARCHAR,
    n BIGINT NOT NULL, sum_act DOUBLE NOT NULL, sum_act_weighted DOUBLE);
CREATE TABLE distributions (
    stage VARCHAR NOT NULL, neuron INTEGER NOT NULL, feature_kind VARCHAR NOT NULL,
    feature VARCHAR NOT NULL, n BIGINT NOT NULL, mu DOUBLE NOT NULL, p DOUBLE NOT NULL,
    mass DOUBLE NOT NULL, mu_weighted DOUBLE, p_weighted DOUBLE, mass_weighted DOUBLE);
CREATE TABLE neuron_stats (
    stage VARCHAR NOT NULL, neuron INTEGER NOT NULL, feature_kind VARCHAR NOT NULL,
    length INTEGER NOT NULL, mass DOUBLE NOT NULL, mass_weighted DOUBLE,
    n_rows BIGINT NOT NULL, alive BOOLEAN NOT NULL);
CREATE TABLE comparisons (
    stage_a VARCHAR NOT NULL, stage_b VARCHAR NOT NULL, neuron INTEGER NOT NULL,
    feature_kind VARCHAR NOT NULL, variant VARCHAR NOT NULL, hellinger DOUBLE,
    len_a INTEGER NOT NULL, len_b INTEGER NOT NULL, len_union INTEGER NOT NULL,
    shift VARCHAR NOT NULL);
CREATE TABLE corpus_pos (corpus VARCHAR NOT NULL, pos VARCHAR NOT NULL, count BIGINT NOT NULL);
CREATE TABLE contexts (
    stage VARCHAR NOT NULL, neuron INTEGER NOT NULL, rank INTEGER NOT NULL,
    seq_id BIGINT NOT NULL, position INTEGER NOT NULL, token VARCHAR NOT NULL, act DOUBLE NOT NULL);
CREATE TABLE sequences (corpus VARCHAR NOT NULL, seq_id BIGINT NOT NULL, tokens VARCHAR[] NOT NULL,
    label INTEGER);
CREATE TABLE training_log (
    model VARCHAR NOT NULL, epoch INTEGER NOT NULL, train_loss DOUBLE, valid_loss DOUBLE,
    valid_ppl DOUBLE, train_f1 DOUBLE, test_f1 DOUBLE, seconds DOUBLE);
CREATE TABLE pruning (
    experiment VARCHAR NOT NULL, description VARCHAR, neurons INTEGER[] NOT NULL, n INTEGER NOT NULL,
    am_share DOUBLE, f1_train DOUBLE, f1_test DOUBLE, base_f1_train DOUBLE, base_f1_test DOUBLE,
    rel_change_train DOUBLE, rel_change_test DOUBLE,
    random_rel_train_mean DOUBLE, random_rel_train_std DOUBLE,
    random_rel_test_mean DOUBLE, random_rel_test_std DOUBLE, random_seeds INTEGER);
"""

TABLES = (
    "meta", "stages", "feature_stats", "distributions", "neuron_stats", "comparisons",
    "corpus_pos", "contexts", "sequences", "training_log", "pruning",
)

class DatabaseExistsError(FileExistsError):
    """The output database exists and overwriting was not requested."""


def tmp_path_for(path: Path) -> Path:
    """The temporary file a writer builds `path` in (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


class AnalysisWriter:
    """Builds one analysis database; use as a context manager.

    On a clean exit `commit()` is called (measures computed if not yet, file renamed into place);
    on an exception the temporary file is deleted and any existing database is left untouched.
    """

    def __init__(self, path: str | os.PathLike, *, force: bool = False):
        self.path = Path(path)
        if self.path.exists() and not force:
            raise DatabaseExistsError(
                f"{self.path} already exists; pass --force to overwrite it or choose another --out"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp_path_for(self.path)
        self.tmp.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.tmp))
        self.con.execute(DDL)
        self._stage_order: list[str] = []
        self._features = {k: pa.array([], pa.string()) for k in FEATURE_KINDS}
        self._dists: dict[tuple[str, str], Distribution] = {}
        self._measured = False
        self._closed = False
        self.set_meta(
            schema_version=SCHEMA_VERSION,
            tool_version=__version__,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )

    def __enter__(self) -> "AnalysisWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def set_meta(self, **items: Any) -> None:
        """Store key/value metadata; non-string values are stored as JSON."""
        for key, value in items.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, text]
            )

    def add_stage(
        self,
        stage: str,
        *,
        kind: str,
        n_neurons: int,
        n_tokens: int,
        n_silent: int,
        feature_stats: pa.Table | pd.DataFrame,
        model: str | None = None,
        checkpoint: str | None = None,
        corpus: str | None = None,
        epoch: int | None = None,
        layer: str | None = None,
        top_k: int = 1,
        has_labels: bool = False,
    ) -> None:
        """Add a stage and its aggregates.

        `feature_stats` has columns neuron, token, pos (may be null), n, sum_act,
        sum_act_weighted (may be null); one row per distinct (neuron, token, pos).
        """
        if kind not in STAGE_KINDS:
            raise ValueError(f"stage kind {kind!r} is not one of {STAGE_KINDS}")
        if stage in self._stage_order:
            raise ValueError(f"stage {stage!r} was added twice")
        fs = _as_arrow(feature_stats)
        self.con.register("_fs", fs)
        try:
            self.con.execute(
                "INSERT INTO feature_stats SELECT ?, neuron::INTEGER, token::VARCHAR, pos::VARCHAR, "
                "n::BIGINT, sum_act::DOUBLE, sum_act_weighted::DOUBLE FROM _fs",
                [stage],
            ).fetchall()
        finally:
            self.con.unregister("_fs")
        neuron = fs["neuron"].to_numpy().astype(np.int64)
        n = fs["n"].to_numpy().astype(np.float64)
        s = fs["sum_act"].to_numpy(zero_copy_only=False).astype(np.float64)
        sw_col = fs["sum_act_weighted"].cast(pa.float64())
        sw = None if sw_col.null_count == len(sw_col) else sw_col.fill_null(0.0).to_numpy()
        pos_col = fs["pos"].cast(pa.string())
        has_pos = pos_col.null_count < len(pos_col)
        for fkind, col in (("token", fs["token"].cast(pa.string())), ("pos", pos_col)):
            if fkind == "pos" and not has_pos:
                continue
            ids = self._encode(fkind, col)
            rows = ids >= 0
            dist = measures.distribution(
                neuron[rows], ids[rows], n[rows], s[rows], None if sw is None else sw[rows],
                n_neurons=int(n_neurons), n_features=len(self._features[fkind]))
            self._dists[(stage, fkind)] = dist
            self._store_distribution(stage, fkind, dist)
        self.con.execute(
            "INSERT INTO stages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [stage, len(self._stage_order), kind, model, checkpoint, corpus, epoch, layer,
             int(n_neurons), int(top_k), int(n_tokens), int(n_silent), has_pos, bool(has_labels)],
        ).fetchall()
        self._stage_order.append(stage)
        self._measured = False

    def _encode(self, kind: str, values: pa.ChunkedArray) -> np.ndarray:
        """Map strings to ids in this writer's feature dictionary (nulls -> -1), growing it."""
        enc = pc.dictionary_encode(values).combine_chunks()
        local = enc.dictionary
        known = self._features[kind]
        idx = pc.index_in(local, value_set=known) if len(known) else pa.nulls(len(local), pa.int32())
        is_new = idx.is_null().to_numpy(zero_copy_only=False)
        mapping = idx.fill_null(-1).to_numpy().astype(np.int64)
        mapping[is_new] = len(known) + np.arange(int(is_new.sum()))
        self._features[kind] = pa.concat_arrays([known, local.filter(pa.array(is_new))])
        codes = enc.indices
        mask = codes.is_null().to_numpy(zero_copy_only=False)
        out = mapping[codes.fill_null(0).to_numpy()]
        out[mask] = -1
        return out

    def _store_distribution(self, stage: str, kind: str, d: Distribution) -> None:
        order = np.lexsort((-d.p, d.neuron))  # by neuron, most probable feature first
        names = self._features[kind].take(pa.array(d.feature[order]))
        rows = len(d.neuron)

        def opt(x):
            return pa.nulls(rows, pa.float64()) if x is None else pa.array(x[order])

        self._insert("distributions", pa.table({
            "stage": pa.array([stage] * rows, pa.string()),
            "neuron": pa.array(d.neuron[order].astype(np.int32)),
            "feature_kind": pa.array([kind] * rows, pa.string()),
            "feature": names, "n": pa.array(d.n[order]), "mu": pa.array(d.mu[order]),
            "p": pa.array(d.p[order]), "mass": pa.array(d.mass[order]),
            "mu_weighted": opt(d.mu_weighted),
            "p_weighted": opt(d.p_weighted), "mass_weighted": opt(d.mass_weighted),
        }))
        k = d.n_neurons
        self._insert("neuron_stats", pa.table({
            "stage": pa.array([stage] * k, pa.string()),
            "neuron": pa.array(np.arange(k, dtype=np.int32)),
            "feature_kind": pa.array([kind] * k, pa.string()),
            "length": pa.array(d.length.astype(np.int32)), "mass": pa.array(d.neuron_mass),
            "mass_weighted": (pa.nulls(k, pa.float64()) if d.neuron_mass_weighted is None
                              else pa.array(d.neuron_mass_weighted)),
            "n_rows": pa.array(d.n_rows), "alive": pa.array(d.length > 0),
        }))

    def _insert(self, table: str, rows: pa.Table) -> None:
        self.con.register("_ins", rows)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ins").fetchall()
        finally:
            self.con.unregister("_ins")

    def add_rows(self, table: str, rows: pd.DataFrame | pa.Table) -> None:
        """Append rows to one of the auxiliary tables (columns by name)."""
        if table not in TABLES or table in ("meta", "stages", "feature_stats"):
            raise ValueError(f"add_rows cannot write table {table!r}")
        self.con.register("_rows", rows)
        try:
            cols = [d[0] for d in self.con.sql("SELECT * FROM _rows LIMIT 0").description]
            collist = ", ".join(f'"{c}"' for c in cols)
            known = {r[0] for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()}
            unknown = sorted(set(cols) - known)
            if unknown:
                raise ValueError(f"table {table!r} has no column(s) {unknown}")
            self.con.execute(f"INSERT INTO {table} ({collist}) SELECT {collist} FROM _rows")
        finally:
            self.con.unregister("_rows")

    @property
    def stages(self) -> list[str]:
        return list(self._stage_order)

    def compute_measures(
        self,
        pairs: Sequence[tuple[str, str]] | None = None,
        *,
        variants: Iterable[str] = ("paper",),
    ) -> None:
        """Fill `comparisons` (distributions and neuron_stats are filled by `add_stage`).

        Without `pairs`, every ordered pair (a, b) with a added before b is compared.
        """
        variants = tuple(variants)
        for v in variants:
            if v not in VARIANTS:
                raise ValueError(f"unknown distance variant {v!r}; choose from {VARIANTS}")
        if pairs is None:
            pairs = default_pairs(self._stage_order)
        for a, b in pairs:
            for s in (a, b):
                if s not in self._stage_order:
                    raise ValueError(
                        f"cannot compare unknown stage {s!r}; known stages: {self._stage_order}"
                    )
            if a == b:
                raise ValueError(f"cannot compare stage {a!r} with itself")
        self.con.execute("DELETE FROM comparisons").fetchall()
        for a, b in pairs:
            for kind in FEATURE_KINDS:
                da, db = self._dists.get((a, kind)), self._dists.get((b, kind))
                if da is None or db is None:
                    continue
                for v in variants:
                    c = measures.compare(da, db, variant=v)
                    m = len(c.len_a)
                    shift = np.where(c.len_b > c.len_a, "longer",
                                     np.where(c.len_b < c.len_a, "shorter", "unchanged"))
                    self._insert("comparisons", pa.table({
                        "stage_a": pa.array([a] * m, pa.string()),
                        "stage_b": pa.array([b] * m, pa.string()),
                        "neuron": pa.array(np.arange(m, dtype=np.int32)),
                        "feature_kind": pa.array([kind] * m, pa.string()),
                        "variant": pa.array([v] * m, pa.string()),
                        "hellinger": pa.array(c.hellinger, from_pandas=True),
                        "len_a": pa.array(c.len_a.astype(np.int32)),
                        "len_b": pa.array(c.len_b.astype(np.int32)),
                        "len_union": pa.array(c.len_union.astype(np.int32)),
                        "shift": pa.array(shift, pa.string()),
                    }))
        self.set_meta(pairs=[list(p) for p in pairs], variants=list(variants))
        self._measured = True

    def headline_figures(self, pairs: Sequence[tuple[str, str]], *, zero_shot: str,
                         supervised: str) -> dict[str, Any]:
        """Per-stage alive counts / mean alive length, per-pair H summaries (paper variant,
        token features) and the number of supervision-added neurons, for run summaries."""
        stages = self.con.sql(
            "SELECT s.stage, s.kind, s.n_tokens, s.n_silent, "
            "count(*) FILTER (WHERE ns.alive) AS alive, "
            "avg(ns.length) FILTER (WHERE ns.alive) AS mean_len "
            "FROM stages s JOIN neuron_stats ns ON ns.stage = s.stage AND ns.feature_kind = 'token' "
            "GROUP BY ALL ORDER BY min(s.ord)").df()
        rows = []
        for a, b in pairs:
            alive, mean_h, len_a, len_b = self.con.execute(
                "SELECT count(hellinger), avg(hellinger), "
                "avg(len_a) FILTER (WHERE hellinger IS NOT NULL), "
                "avg(len_b) FILTER (WHERE hellinger IS NOT NULL) FROM comparisons "
                "WHERE stage_a = ? AND stage_b = ? AND feature_kind = 'token' AND variant = 'paper'",
                [a, b]).fetchall()[0]
            rows.append({"stage_a": a, "stage_b": b, "alive": alive, "mean_h": mean_h,
                         "mean_len_a": len_a, "mean_len_b": len_b})
        added = self.con.execute(
            "SELECT count(*) FROM neuron_stats z JOIN neuron_stats s USING (neuron, feature_kind) "
            "WHERE z.stage = ? AND s.stage = ? AND feature_kind = 'token' "
            "AND NOT z.alive AND s.alive", [zero_shot, supervised]).fetchall()[0][0]
        return {"stages": stages, "pairs": pd.DataFrame(rows), "supervision_added": int(added)}

    def commit(self) -> Path:
        """Compute measures if needed and move the file into place."""
        if self._closed:
            return self.path
        if not self._measured:
            self.compute_measures()
        self.con.execute("CHECKPOINT")
        self.con.close()
        self._closed = True
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the temporary file; the target path is never touched."""
        if not self._closed:
            self.con.close()
            self._closed = True
        self.tmp.unlink(missing_ok=True)
        Path(str(self.tmp) + ".wal").unlink(missing_ok=True)


def _as_arrow(table: pa.Table | pd.DataFrame) -> pa.Table:
    """Normalise a feature_stats input (DataFrame or Arrow) to an Arrow table."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    missing = {"neuron", "token", "pos", "n", "sum_act", "sum_act_weighted"} - set(table.column_names)
    if missing:
        raise ValueError(f"feature_stats lacks column(s) {sorted(missing)}")
    return table


def default_pairs(stages: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair (a, b) with a before b, in order."""
    return [(a, b) for i, a in enumerate(stages) for b in stages[i + 1:]]


def open_read_only(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """Open an analysis database read-only and check its schema version."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no analysis database at {p}")
    con = duckdb.connect(str(p), read_only=True)
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        version = rows[0] if rows else None
    except duckdb.Error as e:
        con.close()
        raise ValueError(f"{p} is not a TX-Ray analysis database ({e})") from None
    if version is None or int(version[0]) != SCHEMA_VERSION:
        con.close()
        raise ValueError(
            f"{p} has schema version {version and version[0]}, expected {SCHEMA_VERSION}; "
            "rebuild it with this version of `python -m precompute`"
        )
    return con
