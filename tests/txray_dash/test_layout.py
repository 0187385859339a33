"""Page layout for valid and unusable databases."""

from __future__ import annotations

import dataclasses

from txray_dash import layout


def _ids(component) -> set:
    out = set()
    if isinstance(component, (list, tuple)):
        for c in component:
            out |= _ids(c)
        return out
    if component is None or isinstance(component, (str, int, float)):
        return out
    if getattr(component, "id", None) is not None and isinstance(component.id, str):
        out.add(component.id)
    return out | _ids(getattr(component, "children", None))


def test_full_layout_has_every_section(data):
    page = layout.serve_layout(data)
    ids = _ids(page)
    for cid in ("url", "view", "stage-a", "stage-b", "kind", "x-measure", "variant", "overview-graph",
                "summary", "head-list", "tail-list", "detail", "model-tabs", "slope-graph",
                "mass-graph", "pos-graph", "convergence-graph", "supervision-table",
                "pruning-table", "download", "token-input", "neuron-input", "messages"):
        assert cid in ids, cid


def test_error_layout_for_missing_db(tmp_path):
    from txray_dash import create_app

    data = create_app(tmp_path / "none.duckdb").server.extensions["txray_data"]
    page = layout.serve_layout(data)
    assert "error-page" in _ids(page) and "overview-graph" not in _ids(page)


def test_header_and_variant_visibility(data):
    info = data.info()
    text = str(layout.header(info))
    assert "synthetic-tiny" in text and "5 stages" in text and "48 neurons" in text
    bar = layout.control_bar(info)
    variant_field = [f for f in bar.children if "variant" in _ids(f)][0]
    assert variant_field.style is None
    single = dataclasses.replace(info, variants=("paper",))
    variant_field = [f for f in layout.control_bar(single).children if "variant" in _ids(f)][0]
    assert variant_field.style == {"display": "none"}
