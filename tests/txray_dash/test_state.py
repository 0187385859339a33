"""URL state: parsing, validation with messages, round trip."""

from __future__ import annotations

from txray_dash.state import View, default_view, parse_search, validate


def test_parse_search_keeps_known_params_last_value():
    raw = parse_search("?stage_a=x&stage_a=y&neuron=4&evil=1")
    assert raw == {"stage_a": "y", "neuron": "4"}


def test_round_trip(data):
    info = data.info()
    view = View(stage_a="wiki_ep48", stage_b="wiki_ep49", kind="pos", x="len_b",
                variant="reference", neuron=7)
    again, messages = validate(info, parse_search(view.to_search()))
    assert again == view and messages == []


def test_default_is_first_stored_pair(data):
    info = data.info()
    view, messages = validate(info, {})
    assert (view.stage_a, view.stage_b) == info.pairs[0] and messages == []
    assert view == default_view(info)


def test_unknown_values_fall_back_with_messages(data):
    info = data.info()
    view, messages = validate(info, {"stage_a": "nope", "kind": "lemma", "x": "width",
                                     "variant": "cosine", "neuron": "100000"})
    assert view == default_view(info)
    text = " ".join(messages)
    for needle in ("'nope'", "'lemma'", "'width'", "'cosine'", "no neuron 100000"):
        assert needle in text


def test_non_numeric_neuron(data):
    view, messages = validate(data.info(), {"neuron": "abc"})
    assert view.neuron is None and "not a number" in messages[0]


def test_reversed_pair_is_accepted(data):
    view, messages = validate(data.info(), {"stage_a": "wiki_ep49", "stage_b": "wiki_ep48"})
    assert (view.stage_a, view.stage_b) == ("wiki_ep49", "wiki_ep48") and messages == []


def test_same_stage_twice_picks_a_partner(data):
    view, messages = validate(data.info(), {"stage_a": "wiki_ep48", "stage_b": "wiki_ep48"})
    assert view.stage_a == "wiki_ep48" and view.stage_b != "wiki_ep48"
    assert "both" in messages[0]
