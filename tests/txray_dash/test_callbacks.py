"""Callback functions called directly (no browser)."""

from __future__ import annotations

import plotly.graph_objects as go
from dash import html

from txray_dash import callbacks as cb
from txray_dash.state import View


def _ids(component) -> list:
    """Every component id inside a Dash component tree, in document order."""
    if isinstance(component, (list, tuple)):
        return [i for c in component for i in _ids(c)]
    if component is None or isinstance(component, (str, int, float)):
        return []
    own = [component.id] if getattr(component, "id", None) is not None else []
    return own + _ids(getattr(component, "children", None))


def _text(component) -> str:
    if isinstance(component, str):
        return component
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


VIEW = View(stage_a="wiki_ep48", stage_b="wiki_ep49", neuron=4).to_dict()


def test_route_from_url_and_from_controls(data):
    search, view, msgs = cb.route(data, trigger=None, search="?stage_a=wiki_ep1&stage_b=wiki_ep49",
                                  controls={}, current=None)
    assert (view.stage_a, view.stage_b) == ("wiki_ep1", "wiki_ep49") and msgs == []
    assert "stage_a=wiki_ep1" in search and "neuron" not in search
    controls = {"stage_a": "wiki_ep48", "stage_b": "wiki_ep49", "kind": "pos", "x": "len_a",
                "variant": "paper"}
    search, view, _ = cb.route(data, trigger="kind", search=search, controls=controls,
                               current=view.to_dict())
    assert view.kind == "pos" and "kind=pos" in search and "x=len_a" in search


def test_route_click_link_swap_and_go(data):
    current = View(stage_a="wiki_ep48", stage_b="wiki_ep49").to_dict()
    click = {"points": [{"customdata": [17, 1, 2, 3, "a", "b"]}]}
    _, view, _ = cb.route(data, trigger="overview-graph", search="", controls={}, current=current,
                          click=click)
    assert view.neuron == 17
    _, view, _ = cb.route(data, trigger={"type": "neuron-link", "list": "head", "index": 9},
                          search="", controls={}, current=view.to_dict(), link_neuron=9)
    assert view.neuron == 9
    _, view, _ = cb.route(data, trigger="swap", search="", controls={}, current=view.to_dict())
    assert (view.stage_a, view.stage_b, view.neuron) == ("wiki_ep49", "wiki_ep48", 9)
    _, view, msgs = cb.route(data, trigger="neuron-go", search="", controls={},
                             current=view.to_dict(), neuron_input=10**6)
    assert view.neuron is None and "no neuron" in msgs[0]


def test_route_without_database(tmp_path):
    from txray_dash import create_app

    data = create_app(tmp_path / "gone.duckdb").server.extensions["txray_data"]
    search, view, msgs = cb.route(data, trigger=None, search="?neuron=1", controls={},
                                  current=None)
    assert view is None and "no analysis database" in msgs[0]


def test_overview_outputs(data):
    fig, cards, head, tail, title = cb.overview_outputs(data, VIEW)
    assert isinstance(fig, go.Figure) and len(fig.data) >= 2
    assert len(cards) == 8 and "alive in wiki_ep48" in _text(cards)
    head_ids = [i["index"] for i in _ids(head)]
    df = data.overview("wiki_ep48", "wiki_ep49", "token", "paper").dropna(subset=["hellinger"])
    assert head_ids == df.sort_values(["hellinger", "neuron"], ascending=[False, True])[
        "neuron"].head(10).tolist()
    assert len(_ids(tail)) == 10 and "wiki_ep48 → wiki_ep49" in title


def test_detail_outputs(data):
    children, title = cb.detail_outputs(data, VIEW)
    assert title.startswith("Neuron 4")
    ids = _ids(children)
    assert {"token-bars", "pos-bars", "detail-numbers"} <= set(ids)
    empty, title = cb.detail_outputs(data, {**VIEW, "neuron": None})
    assert title == "Neuron detail" and "Click a point" in _text(empty)


def test_search_outputs(data):
    out = cb.search_outputs(data, VIEW, " the ")
    ids = _ids(out)
    hits = data.neurons_with_token("wiki_ep48", "token", "the")
    assert [i["index"] for i in ids if i["list"] == "search-wiki_ep48"] == hits["neuron"].tolist()
    assert "No neuron" in _text(cb.search_outputs(data, VIEW, "zzzz-not-a-token"))
    assert cb.search_outputs(data, VIEW, "") == []


def test_model_level_outputs(data):
    stages = data.info().stage_names
    assert len(cb.slope_figure(data, VIEW, stages).data) >= 2
    assert "at least two" in cb.slope_figure(data, VIEW, stages[:1]).layout.annotations[0].text
    assert [t.name for t in cb.mass_figure(data, VIEW, "normalised").data] == stages
    assert {t.name for t in cb.pos_figure(data, VIEW).data} == {
        "corpus: wikitext-2", "activation: wiki_ep48", "activation: wiki_ep49"}
    chosen = {t.name for t in cb.pos_figure(data, VIEW, ["wiki_ep1", "imdb_supervised"]).data}
    assert chosen == {"corpus: wikitext-2", "corpus: imdb", "activation: wiki_ep1",
                      "activation: imdb_supervised"}
    conv = cb.convergence_figure(data, VIEW)
    assert any("mean H" in t.name for t in conv.data)
    note, table = cb.supervision_outputs(data, True)
    assert "dead in imdb_zero_shot and alive in imdb_supervised" in note
    ids = _ids(table)
    assert "supervision-rows" in ids
    added = data.supervision_added("imdb_zero_shot", "imdb_supervised", weighted=True)
    assert [i["index"] for i in ids if isinstance(i, dict)] == added["neuron"].tolist()
    assert "pruning-rows" in _ids(cb.pruning_outputs(data))


def test_download_payloads(data):
    sel = {"points": [{"customdata": [1]}, {"customdata": [2]}]}
    out = cb.download_payload(data, trigger="download-overview", view_dict=VIEW, selected=sel,
                              weighted=False)
    assert out["filename"].endswith("_selection.csv")
    lines = out["content"].strip().splitlines()
    assert lines[0].startswith("neuron,hellinger") and len(lines) == 3
    full = cb.download_payload(data, trigger="download-overview", view_dict=VIEW, selected=None,
                               weighted=False)
    assert len(full["content"].strip().splitlines()) == data.info().n_neurons("wiki_ep48") + 1
    for trig in ("download-detail", "download-supervision", "download-pruning"):
        assert cb.download_payload(data, trigger=trig, view_dict=VIEW, selected=None,
                                   weighted=True)["content"]
    assert cb.download_payload(data, trigger="download-detail", view_dict={**VIEW, "neuron": None},
                               selected=None, weighted=False) is None


def test_message_box():
    box = cb.message_box(["a", "b"], tone="error")
    assert all(isinstance(b, html.Div) and "error" in b.className for b in box)


def test_guarded_turns_database_failures_into_messages():
    import duckdb

    from txray_dash.data import DatabaseError

    def broken(kind):
        raise {"db": DatabaseError("gone"), "duck": duckdb.IOException("disk")}[kind]

    safe = cb.guarded(broken, lambda m: ("fallback", m))
    assert safe("db") == ("fallback", "The analysis database could not be read: gone. Check the "
                                      "file and reload the page.")
    assert "disk" in safe("duck")[1]
    assert cb.guarded(lambda x: x + 1, lambda m: None)(1) == 2


def test_supervision_table_is_capped(data, monkeypatch):
    monkeypatch.setattr(cb, "SUPERVISION_ROWS_SHOWN", 1)
    added = data.supervision_added("imdb_zero_shot", "imdb_supervised", weighted=False)
    note, table = cb.supervision_outputs(data, False)
    assert len([i for i in _ids(table) if isinstance(i, dict)]) == 1
    assert f"the CSV has all {len(added)}" in note
