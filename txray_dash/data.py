"""Read-only access to an analysis database: every SQL query of the dashboard lives here.

Queries are parameterised (`?`), run on a read-only DuckDB connection, and memoised with
flask-caching. The cache key of every query includes the resolved database path and its
modification time (`__caching_id__`), so several databases can share one cache safely and a
rebuilt database is never answered from stale entries.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from flask_caching import Cache

SCHEMA_VERSION = 1
"""The database schema version this app reads (docs/DATABASE.md)."""

FEATURE_KINDS = ("token", "pos")
LENGTH_MEASURES = {"union": "len_union", "len_a": "len_a", "len_b": "len_b"}
CONTEXT_WINDOW = 8


class DatabaseError(Exception):
    """The analysis database is missing or unusable; the message says why and how to fix it."""


@dataclass(frozen=True)
class DbInfo:
    """What the app needs to know about a database before drawing anything."""

    path: str
    schema_version: int
    meta: dict[str, Any]
    stages: pd.DataFrame
    pairs: tuple[tuple[str, str], ...]
    variants: tuple[str, ...]

    @property
    def stage_names(self) -> list[str]:
        return self.stages["stage"].tolist()

    def n_neurons(self, stage: str) -> int:
        return int(self.stages.loc[self.stages["stage"] == stage, "n_neurons"].iloc[0])

    def has_pos(self, stage: str) -> bool:
        return bool(self.stages.loc[self.stages["stage"] == stage, "has_pos"].iloc[0])

    def stored_pair(self, stage_a: str, stage_b: str) -> tuple[str, str, bool] | None:
        """The stored (a, b) pair for the requested one and whether it is swapped, or None."""
        if (stage_a, stage_b) in self.pairs:
            return stage_a, stage_b, False
        if (stage_b, stage_a) in self.pairs:
            return stage_b, stage_a, True
        return None


def check_database(path: str | os.PathLike) -> DbInfo:
    """Open `path` read-only, check it is a TX-Ray database of the right schema version."""
    p = Path(path)
    if not p.exists():
        raise DatabaseError(
            f"no analysis database at {p}. Build one with "
            f"`python -m precompute run --preset demo --out {p}` or pass --db FILE"
        )
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as e:
        raise DatabaseError(f"{p} cannot be opened as a DuckDB database ({e})") from None
    try:
        return read_info(con, p)
    finally:
        con.close()


def read_info(con: duckdb.DuckDBPyConnection, path: Path) -> DbInfo:
    """`DbInfo` from an open connection (raises DatabaseError for a foreign or old file)."""
    try:
        meta_rows = con.execute("SELECT key, value FROM meta").fetchall()
    except duckdb.Error:
        raise DatabaseError(
            f"{path} is not a TX-Ray analysis database (it has no `meta` table); "
            "build one with `python -m precompute run`"
        ) from None
    meta = {k: _json_or_text(v) for k, v in meta_rows}
    version = meta.get("schema_version")
    if version is None or str(version) != str(SCHEMA_VERSION):
        raise DatabaseError(
            f"{path} has schema version {version}, this dashboard reads version {SCHEMA_VERSION}; "
            "rebuild it with the matching `python -m precompute` or upgrade the dashboard"
        )
    stages = con.sql(
        "SELECT stage, ord, kind, model, checkpoint, corpus, epoch, layer, n_neurons, top_k, "
        "n_tokens, n_silent, has_pos, has_labels FROM stages ORDER BY ord"
    ).df()
    pairs = tuple(tuple(x) for x in meta.get("pairs") or [])
    variants = tuple(meta.get("variants") or [])
    if not pairs or not variants:
        stored = con.execute("SELECT DISTINCT stage_a, stage_b, variant FROM comparisons "
                             "ORDER BY ALL").fetchall()
        pairs = pairs or tuple(dict.fromkeys((a, b) for a, b, _ in stored))
        variants = variants or tuple(dict.fromkeys(v for _, _, v in stored)) or ("paper",)
    return DbInfo(path=str(Path(path).resolve()), schema_version=int(version), meta=meta,
                  stages=stages, pairs=pairs, variants=variants)


@dataclass(frozen=True)
class CorpusTokens:
    """The sequences of one corpus, flattened: tokens of sequence i are
    values[offsets[i]:offsets[i + 1]], sequences sorted by seq_id."""

    seq_ids: np.ndarray
    offsets: np.ndarray
    values: pa.Array
    labels: np.ndarray

    def windows(self, seq_id: np.ndarray, position: np.ndarray, width: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(left text, right text, label) around each (seq_id, position), `width` tokens each
        side, clipped to the sequence (vectorised gather)."""
        n = len(seq_id)
        if n == 0 or len(self.seq_ids) == 0:
            return np.full(n, "", object), np.full(n, "", object), np.full(n, np.nan)
        row = np.searchsorted(self.seq_ids, seq_id)
        row = np.clip(row, 0, len(self.seq_ids) - 1)
        found = self.seq_ids[row] == seq_id
        start, stop = self.offsets[row], self.offsets[row + 1]
        at = start + position
        steps = np.arange(-width, width + 1)
        idx = at[:, None] + steps[None, :]
        ok = found[:, None] & (idx >= start[:, None]) & (idx < stop[:, None]) & (steps != 0)
        words = np.asarray(self.values.take(pa.array(np.where(ok, idx, 0).ravel()))
                           .to_numpy(zero_copy_only=False), dtype=object).reshape(idx.shape)
        words = np.where(ok, words, None)
        left = [" ".join(w for w in r if w is not None) for r in words[:, :width]]
        right = [" ".join(w for w in r if w is not None) for r in words[:, width + 1:]]
        labels = np.where(found, self.labels[row], np.nan)
        return np.array(left, dtype=object), np.array(right, dtype=object), labels


def _two(stages: Sequence[str]) -> tuple[str, str]:
    """Two stage names from a 1- or 2-element sequence (the second repeats the first)."""
    stages = tuple(stages)
    if not 1 <= len(stages) <= 2:
        raise ValueError(f"expected one or two stages, got {stages!r}")
    return stages[0], stages[-1]


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


_MEMOISED = (
    "info", "overview", "neuron_numbers", "neuron_comparisons", "token_bars",
    "pos_distribution", "contexts", "lengths_across", "masses", "pos_share", "corpus_pos",
    "convergence", "training_log", "supervision_added", "pruning", "neurons_with_token",
)


class AnalysisData:
    """Memoised, parameterised queries against one analysis database (opened lazily).

    `timeout` (seconds) overrides the cache's default timeout (CACHE_DEFAULT_TIMEOUT).
    """

    def __init__(self, path: str | os.PathLike, *, cache: Cache, timeout: int | None = None):
        self.path = Path(path).resolve()
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pid = os.getpid()
        self._mtime = self._stat_mtime()
        self._corpora: dict[str, tuple[tuple[int, int], CorpusTokens]] = {}
        for name in _MEMOISED:
            setattr(self, name, cache.memoize(timeout=timeout)(getattr(self, name)))

    def __caching_id__(self) -> str:
        """Cache-key identity: the database path and the file's current modification time."""
        return f"txray:{self.path}:{self._stat_mtime()}"

    def __repr__(self) -> str:
        return f"AnalysisData({str(self.path)!r})"

    # ---- plumbing -------------------------------------------------------------------------

    def _stat_mtime(self) -> int:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return 0

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the shared read-only connection, reopened after a fork or when the file
        was replaced (its new mtime also gives fresh cache keys, see `__caching_id__`)."""
        with self._lock:
            mtime = self._stat_mtime()
            if self._con is None or self._pid != os.getpid() or mtime != self._mtime:
                if self._con is not None and self._pid == os.getpid():
                    self._con.close()
                self._con = duckdb.connect(str(self.path), read_only=True)
                self._pid = os.getpid()
                self._mtime = mtime
            return self._con.cursor()

    def _df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        cur = self._cursor()
        try:
            return cur.execute(sql, list(params)).df()
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    # ---- database-level --------------------------------------------------------------------

    def info(self) -> DbInfo:
        """Meta, stages, compared pairs and variants (raises DatabaseError if unusable)."""
        if not self.path.exists():
            return check_database(self.path)
        try:
            cur = self._cursor()
        except duckdb.Error as e:
            raise DatabaseError(f"{self.path} cannot be opened as a DuckDB database ({e})") \
                from None
        try:
            return read_info(cur, self.path)
        finally:
            cur.close()

    # ---- overview ----------------------------------------------------------------------------

    def overview(self, stage_a: str, stage_b: str, kind: str, variant: str) -> pd.DataFrame:
        """One row per neuron for the pair: hellinger (NaN if ill-defined), len_a, len_b,
        len_union, shift (B vs A), top_a / top_b (top-3 features by P in each stage).

        A pair stored as (B, A) is answered with lengths and shift swapped.
        """
        stored = self.info().stored_pair(stage_a, stage_b)
        if stored is None:
            raise DatabaseError(f"stages {stage_a!r} and {stage_b!r} were not compared")
        sa, sb, swapped = stored
        df = self._df(
            """
            WITH c AS (
                SELECT neuron, hellinger, len_a, len_b, len_union, shift FROM comparisons
                WHERE stage_a = ? AND stage_b = ? AND feature_kind = ? AND variant = ?
            ), ta AS (
                SELECT neuron, max_by(feature, p, 3) AS top FROM distributions
                WHERE stage = ? AND feature_kind = ? GROUP BY neuron
            ), tb AS (
                SELECT neuron, max_by(feature, p, 3) AS top FROM distributions
                WHERE stage = ? AND feature_kind = ? GROUP BY neuron
            )
            SELECT c.*, array_to_string(ta.top, ' · ') AS top_a,
                   array_to_string(tb.top, ' · ') AS top_b
            FROM c LEFT JOIN ta USING (neuron) LEFT JOIN tb USING (neuron) ORDER BY neuron
            """,
            [sa, sb, kind, variant, stage_a, kind, stage_b, kind],
        )
        if swapped:
            df = df.rename(columns={"len_a": "len_b", "len_b": "len_a"})
            df["shift"] = df["shift"].map({"longer": "shorter", "shorter": "longer",
                                           "unchanged": "unchanged"})
        df["top_a"] = df["top_a"].fillna("")
        df["top_b"] = df["top_b"].fillna("")
        return df[["neuron", "hellinger", "len_a", "len_b", "len_union", "shift", "top_a", "top_b"]]

    def neurons_with_token(self, stage: str, kind: str, feature: str, limit: int = 50
                           ) -> pd.DataFrame:
        """Neurons whose distribution in `stage` contains `feature`, ranked by its probability;
        if nothing matches exactly, features equal to it ignoring case."""
        exact = self._df(
            "SELECT neuron, feature, p, mu, n FROM distributions "
            "WHERE stage = ? AND feature_kind = ? AND feature = ? ORDER BY p DESC, neuron LIMIT ?",
            [stage, kind, feature, int(limit)],
        )
        if not exact.empty:
            return exact
        return self._df(
            "SELECT neuron, feature, p, mu, n FROM distributions "
            "WHERE stage = ? AND feature_kind = ? AND lower(feature) = lower(?) "
            "ORDER BY p DESC, neuron LIMIT ?",
            [stage, kind, feature, int(limit)],
        )

    # ---- one neuron --------------------------------------------------------------------------

    def neuron_numbers(self, neuron: int) -> pd.DataFrame:
        """The neuron's length, mass, share of its stage's mass and alive flag in every stage."""
        return self._df(
            """
            WITH t AS (SELECT stage, feature_kind, sum(mass) AS total FROM neuron_stats
                       GROUP BY stage, feature_kind)
            SELECT s.stage, st.ord, s.feature_kind, s.length, s.mass, s.mass_weighted, s.n_rows,
                   s.alive, s.mass / nullif(t.total, 0) AS mass_share
            FROM neuron_stats s JOIN t USING (stage, feature_kind)
            JOIN stages st USING (stage)
            WHERE s.neuron = ? ORDER BY st.ord, s.feature_kind
            """,
            [int(neuron)],
        )

    def neuron_comparisons(self, neuron: int, kind: str, variant: str) -> pd.DataFrame:
        """H and lengths of the neuron for every stored stage pair."""
        return self._df(
            "SELECT stage_a, stage_b, hellinger, len_a, len_b, len_union, shift FROM comparisons "
            "WHERE neuron = ? AND feature_kind = ? AND variant = ? ORDER BY stage_a, stage_b",
            [int(neuron), kind, variant],
        )

    def token_bars(self, neuron: int, stages: tuple[str, str], limit: int = 20) -> pd.DataFrame:
        """Top `limit` tokens by P in each of the two stages (may be equal), with each token's
        dominant POS tag (the tag with the largest activation sum)."""
        a, b = _two(stages)
        return self._df(
            """
            WITH d AS (
                SELECT stage, feature AS token, p, mu, mass, n,
                       row_number() OVER (PARTITION BY stage ORDER BY p DESC, feature) AS rank
                FROM distributions
                WHERE neuron = ? AND feature_kind = 'token' AND stage IN (?, ?)
                QUALIFY rank <= ?
            ), pos AS (
                SELECT stage, token, arg_max(pos, sum_act) AS pos FROM feature_stats
                WHERE neuron = ? AND stage IN (?, ?) AND pos IS NOT NULL
                  AND token IN (SELECT token FROM d)
                GROUP BY stage, token
            )
            SELECT d.stage, d.rank, d.token, pos.pos, d.p, d.mu, d.mass, d.n
            FROM d LEFT JOIN pos USING (stage, token)
            ORDER BY d.stage, d.rank
            """,
            [int(neuron), a, b, int(limit), int(neuron), a, b],
        )

    def pos_distribution(self, neuron: int, stages: tuple[str, str]) -> pd.DataFrame:
        """The neuron's POS distribution (P per tag) in each of the two stages."""
        a, b = _two(stages)
        return self._df(
            "SELECT stage, feature AS pos, p, mass FROM distributions "
            "WHERE neuron = ? AND feature_kind = 'pos' AND stage IN (?, ?) "
            "ORDER BY stage, p DESC",
            [int(neuron), a, b],
        )

    def contexts(self, neuron: int, stages: tuple[str, str], limit: int = 5) -> pd.DataFrame:
        """Top activating positions in the two stages with CONTEXT_WINDOW tokens either side
        (left_text, right_text) and the sequence's label."""
        a, b = _two(stages)
        ctx = self._df(
            """
            SELECT c.stage, c.rank, c.seq_id, c.position, c.token, c.act, st.corpus
            FROM contexts c JOIN stages st USING (stage)
            WHERE c.neuron = ? AND c.stage IN (?, ?) AND c.rank < ?
            ORDER BY st.ord, c.rank
            """,
            [int(neuron), a, b, int(limit)],
        )
        left = np.full(len(ctx), "", dtype=object)
        right = np.full(len(ctx), "", dtype=object)
        label = np.full(len(ctx), np.nan)
        for corpus in ctx["corpus"].dropna().unique():
            rows = (ctx["corpus"] == corpus).to_numpy()
            seqs = self._corpus_tokens(str(corpus))
            left[rows], right[rows], label[rows] = seqs.windows(
                ctx.loc[rows, "seq_id"].to_numpy(), ctx.loc[rows, "position"].to_numpy(),
                CONTEXT_WINDOW)
        return ctx.drop(columns="corpus").assign(left_text=left, right_text=right, label=label)

    def _corpus_tokens(self, corpus: str) -> "CorpusTokens":
        """All sequences of `corpus` as one flat Arrow array, loaded once per process (the
        sequences table is immutable; slicing it in memory avoids decoding list columns on
        every detail request)."""
        with self._lock:
            cached = self._corpora.get(corpus)
            if cached is not None and cached[0] == (self._mtime, os.getpid()):
                return cached[1]
        cur = self._cursor()
        try:
            table = cur.sql(
                "SELECT seq_id, tokens, label FROM sequences WHERE corpus = ? ORDER BY seq_id",
                params=[corpus]).to_arrow_table()
        finally:
            cur.close()
        tokens = table["tokens"].combine_chunks()
        seqs = CorpusTokens(
            seq_ids=table["seq_id"].to_numpy(),
            offsets=tokens.offsets.to_numpy() if len(tokens) else np.zeros(1, np.int32),
            values=tokens.values if len(tokens) else pa.array([], pa.string()),
            labels=table["label"].to_numpy(zero_copy_only=False).astype(float),
        )
        with self._lock:
            self._corpora[corpus] = ((self._mtime, os.getpid()), seqs)
        return seqs

    # ---- model level -------------------------------------------------------------------------

    def lengths_across(self, stages: tuple[str, ...], kind: str) -> pd.DataFrame:
        """neuron x stage lengths (long format) for the given stages."""
        return self._df(
            "SELECT stage, neuron, length, alive FROM neuron_stats "
            "WHERE feature_kind = ? AND list_contains(?, stage) ORDER BY stage, neuron",
            [kind, list(stages)],
        )

    def masses(self, kind: str) -> pd.DataFrame:
        """Activation mass of every neuron in every stage."""
        return self._df(
            "SELECT s.stage, s.neuron, s.mass FROM neuron_stats s JOIN stages st USING (stage) "
            "WHERE s.feature_kind = ? ORDER BY st.ord, s.neuron",
            [kind],
        )

    def pos_share(self) -> pd.DataFrame:
        """Share of each stage's activation mass per POS tag."""
        return self._df(
            """
            SELECT stage, feature AS pos, sum(mass) AS mass,
                   sum(mass) / sum(sum(mass)) OVER (PARTITION BY stage) AS share
            FROM distributions WHERE feature_kind = 'pos' GROUP BY stage, feature
            ORDER BY stage, share DESC
            """
        )

    def corpus_pos(self) -> pd.DataFrame:
        """Relative frequency of each POS tag in each recorded corpus."""
        return self._df(
            "SELECT corpus, pos, count, count / sum(count) OVER (PARTITION BY corpus) AS freq "
            "FROM corpus_pos ORDER BY corpus, count DESC"
        )

    def convergence(self, kind: str, variant: str) -> pd.DataFrame:
        """Mean H and number of alive neurons for every stored pair."""
        return self._df(
            "SELECT stage_a, stage_b, avg(hellinger) AS mean_h, count(hellinger) AS n_alive "
            "FROM comparisons WHERE feature_kind = ? AND variant = ? GROUP BY stage_a, stage_b",
            [kind, variant],
        )

    def training_log(self) -> pd.DataFrame:
        """Per-epoch losses, perplexity and F1 of every trained model."""
        return self._df("SELECT * FROM training_log ORDER BY model, epoch")

    def supervision_added(self, zero_shot: str, supervised: str, *, weighted: bool,
                          n_features: int = 8) -> pd.DataFrame:
        """Neurons dead in `zero_shot` and alive in `supervised`, by activation sum, with their
        top features by mass (task-weighted mass when `weighted`)."""
        order = "d.mass_weighted" if weighted else "d.mass"
        total = "s.mass_weighted" if weighted else "s.mass"
        return self._df(
            f"""
            WITH added AS (
                SELECT s.neuron, {total} AS activation_sum, s.length
                FROM neuron_stats s JOIN neuron_stats z
                  ON z.neuron = s.neuron AND z.feature_kind = s.feature_kind AND z.stage = ?
                WHERE s.stage = ? AND s.feature_kind = 'token' AND s.alive AND NOT z.alive
            ), feats AS (
                SELECT d.neuron, list(d.feature ORDER BY {order} DESC NULLS LAST) AS features
                FROM distributions d JOIN added USING (neuron)
                WHERE d.stage = ? AND d.feature_kind = 'token' GROUP BY d.neuron
            )
            SELECT added.neuron, added.activation_sum, added.length,
                   array_to_string(list_slice(feats.features, 1, ?), ' · ') AS top_features
            FROM added LEFT JOIN feats USING (neuron)
            ORDER BY added.activation_sum DESC NULLS LAST, added.neuron
            """,
            [zero_shot, supervised, supervised, int(n_features)],
        )

    def pruning(self) -> pd.DataFrame:
        """Table 2: pruning experiments with their random controls."""
        return self._df("SELECT * FROM pruning ORDER BY experiment")
