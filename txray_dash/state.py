"""The view state (stages, feature kind, x measure, distance variant, neuron) and its URL form.

The query string is the single source of truth for what is shown, so a copied link reopens the
same view. Invalid values never raise: they are replaced by defaults and explained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from urllib.parse import parse_qs, urlencode

from txray_dash.data import FEATURE_KINDS, LENGTH_MEASURES, DbInfo

PARAMS = ("stage_a", "stage_b", "kind", "x", "variant", "neuron")


@dataclass(frozen=True)
class View:
    stage_a: str
    stage_b: str
    kind: str = "token"
    x: str = "union"
    variant: str = "paper"
    neuron: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "View":
        return cls(**{k: d[k] for k in PARAMS if k in d})

    def to_search(self) -> str:
        items = {k: v for k, v in asdict(self).items() if v is not None}
        return "?" + urlencode(items)

    @property
    def x_column(self) -> str:
        return LENGTH_MEASURES[self.x]


def parse_search(search: str | None) -> dict[str, str]:
    """Query string -> {param: last value} for the known parameters."""
    raw = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return {k: v[-1] for k, v in raw.items() if k in PARAMS and v}


def default_view(info: DbInfo) -> View:
    """The first stored pair, token features, union length, the first distance variant."""
    if info.pairs:
        a, b = info.pairs[0]
    else:
        names = info.stage_names
        a, b = names[0], names[min(1, len(names) - 1)]
    return View(stage_a=a, stage_b=b, variant=info.variants[0] if info.variants else "paper")


def validate(info: DbInfo, raw: dict[str, object]) -> tuple[View, list[str]]:
    """A valid view for `info` from raw values, and a message for every value replaced."""
    base = default_view(info)
    messages: list[str] = []
    stages = info.stage_names
    a = str(raw.get("stage_a") or base.stage_a)
    b = str(raw.get("stage_b") or base.stage_b)
    for label, value in (("stage A", a), ("stage B", b)):
        if value not in stages:
            messages.append(f"Unknown {label} {value!r}; this database has the stages "
                            f"{', '.join(stages)}. Showing the default pair instead.")
    if a not in stages or b not in stages:
        a, b = base.stage_a, base.stage_b
    elif info.stored_pair(a, b) is None:
        partners = [q if p == a else p for p, q in info.pairs if a in (p, q)]
        if a == b:
            messages.append(f"Stage A and stage B are both {a!r}; choose two different stages.")
        else:
            messages.append(f"{a} and {b} were not compared in this database.")
        if partners:
            b = partners[0]
            messages[-1] += f" Showing {a} → {b} (compared with {a}: {', '.join(partners)})."
        else:
            a, b = base.stage_a, base.stage_b
            messages[-1] += f" Showing the default pair {a} → {b}."
    kind = str(raw.get("kind") or base.kind)
    if kind not in FEATURE_KINDS:
        messages.append(f"Unknown feature kind {kind!r}; use one of {', '.join(FEATURE_KINDS)}.")
        kind = "token"
    elif kind == "pos" and not (info.has_pos(a) and info.has_pos(b)):
        messages.append(f"POS features are not recorded for {a} and {b}; showing tokens.")
        kind = "token"
    x = str(raw.get("x") or base.x)
    if x not in LENGTH_MEASURES:
        messages.append(f"Unknown length measure {x!r}; use one of {', '.join(LENGTH_MEASURES)}.")
        x = base.x
    variant = str(raw.get("variant") or base.variant)
    if variant not in info.variants:
        messages.append(f"Distance variant {variant!r} is not stored; this database has "
                        f"{', '.join(info.variants)}.")
        variant = base.variant
    neuron = raw.get("neuron")
    n_max = min(info.n_neurons(a), info.n_neurons(b))
    if neuron in (None, ""):
        neuron = None
    else:
        try:
            neuron = int(str(neuron))
        except ValueError:
            messages.append(f"Neuron {neuron!r} is not a number.")
            neuron = None
        else:
            if not 0 <= neuron < n_max:
                messages.append(f"There is no neuron {neuron}: neurons are 0 to {n_max - 1}.")
                neuron = None
    view = replace(base, stage_a=a, stage_b=b, kind=kind, x=x, variant=variant, neuron=neuron)
    return view, messages
