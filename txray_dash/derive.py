"""Pure DataFrame transforms behind the views (no SQL, no Dash)."""

from __future__ import annotations

import numpy as np
import pandas as pd

POS_CLASSES: dict[str, tuple[str, ...]] = {
    "noun": ("NN", "NNS", "NNP", "NNPS"),
    "verb": ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"),
    "adjective": ("JJ", "JJR", "JJS"),
    "adverb": ("RB", "RBR", "RBS", "WRB"),
    "pronoun": ("PRP", "PRP$", "WP", "WP$", "EX"),
    "determiner": ("DT", "PDT", "WDT"),
    "adposition": ("IN", "TO", "RP"),
    "number": ("CD",),
    "conjunction": ("CC",),
    "punctuation": (",", ".", ":", "``", "''", "-LRB-", "-RRB-", "HYPH", "NFP", "$", "#"),
}
_TAG_TO_CLASS = {tag: cls for cls, tags in POS_CLASSES.items() for tag in tags}
CLASS_ORDER = (*POS_CLASSES, "other", "untagged")


def pos_class(tags: pd.Series) -> pd.Series:
    """Coarse class of each PTB tag ('untagged' for nulls, 'other' for the rest)."""
    out = tags.map(_TAG_TO_CLASS)
    out = out.where(out.notna(), np.where(tags.isna(), "untagged", "other"))
    return out.astype(str)


def summary(df: pd.DataFrame) -> dict[str, float | int]:
    """Summary numbers of an overview frame (see `AnalysisData.overview`)."""
    alive_a = df["len_a"] > 0
    alive_b = df["len_b"] > 0
    both = df["hellinger"].notna()
    change = (df.loc[both, "len_b"] - df.loc[both, "len_a"]) / df.loc[both, "len_a"] * 100.0
    return {
        "neurons": int(len(df)),
        "alive_a": int(alive_a.sum()),
        "alive_b": int(alive_b.sum()),
        "alive_both": int(both.sum()),
        "dead_both": int((~alive_a & ~alive_b).sum()),
        "added": int((~alive_a & alive_b).sum()),
        "removed": int((alive_a & ~alive_b).sum()),
        "mean_h": float(df.loc[both, "hellinger"].mean()) if both.any() else float("nan"),
        "mean_len_change_pct": float(change.mean()) if both.any() else float("nan"),
    }


def head_tail(df: pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The n neurons with the largest and the smallest defined H."""
    alive = df[df["hellinger"].notna()]
    ranked = alive.sort_values(["hellinger", "neuron"], ascending=[False, True])
    return ranked.head(n), ranked.tail(n).iloc[::-1]


def filter_selection(df: pd.DataFrame, neurons: list[int] | None) -> pd.DataFrame:
    """Rows of the selected neurons (all rows when nothing is selected)."""
    if not neurons:
        return df
    return df[df["neuron"].isin(neurons)]


def length_paths(df: pd.DataFrame, *, stages: list[str]) -> pd.DataFrame:
    """Wide neuron x stage lengths plus the direction of the first -> last change."""
    wide = df.pivot(index="neuron", columns="stage", values="length").reindex(columns=stages)
    wide = wide.dropna()
    first, last = wide[stages[0]], wide[stages[-1]]
    direction = np.select([last > first, last < first], ["longer", "shorter"], "unchanged")
    wide["direction"] = direction
    return wide.reset_index()


def sorted_masses(df: pd.DataFrame, *, normalised: bool) -> pd.DataFrame:
    """Per stage the neurons' masses in descending order with their rank (and share)."""
    out = df.sort_values(["stage", "mass"], ascending=[True, False]).copy()
    out["rank"] = out.groupby("stage").cumcount() + 1
    if normalised:
        total = out.groupby("stage")["mass"].transform("sum")
        out["mass"] = out["mass"] / total.where(total > 0)
    return out


def consecutive_epochs(stages: pd.DataFrame, pairs_h: pd.DataFrame) -> pd.DataFrame:
    """Mean H between consecutive pretraining snapshots of the same model (by epoch)."""
    pre = stages[(stages["kind"] == "pretrain") & stages["epoch"].notna()].sort_values("epoch")
    rows = []
    for _, group in pre.groupby("model", sort=False):
        group = group.sort_values("epoch")
        rows.append(pd.DataFrame({"model": group["model"].iloc[1:].to_numpy(),
                                  "stage_a": group["stage"].iloc[:-1].to_numpy(),
                                  "stage_b": group["stage"].iloc[1:].to_numpy(),
                                  "epoch_a": group["epoch"].iloc[:-1].to_numpy(),
                                  "epoch_b": group["epoch"].iloc[1:].to_numpy()}))
    if not rows:
        return pd.DataFrame(columns=["model", "stage_a", "stage_b", "epoch_a", "epoch_b",
                                     "mean_h", "n_alive"])
    cons = pd.concat(rows, ignore_index=True)
    return cons.merge(pairs_h, on=["stage_a", "stage_b"], how="inner")


def pos_comparison(corpus: pd.DataFrame, share: pd.DataFrame, *, stages: list[str],
                   corpus_of: dict[str, str], top: int = 18) -> pd.DataFrame:
    """Long frame (series, pos, value): corpus frequency per corpus and activation share per
    stage, for the `top` tags most frequent in the involved corpora."""
    corpora = list(dict.fromkeys(corpus_of[s] for s in stages if corpus_of.get(s)))
    c = corpus[corpus["corpus"].isin(corpora)]
    tags = c.groupby("pos")["freq"].max().sort_values(ascending=False).head(top).index.tolist()
    parts = [pd.DataFrame({"series": f"corpus: {name}", "pos": g["pos"], "value": g["freq"]})
             for name, g in c.groupby("corpus", sort=False)]
    parts += [pd.DataFrame({"series": f"activation: {name}", "pos": g["pos"], "value": g["share"]})
              for name, g in share[share["stage"].isin(stages)].groupby("stage", sort=False)]
    if not parts:
        return pd.DataFrame(columns=["series", "pos", "value"])
    out = pd.concat(parts, ignore_index=True)
    out = out[out["pos"].isin(tags)]
    out["pos"] = pd.Categorical(out["pos"], categories=tags, ordered=True)
    return out.sort_values(["series", "pos"]).reset_index(drop=True)
