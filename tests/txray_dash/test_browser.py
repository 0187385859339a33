"""End-to-end tests in real headless Chromium (Playwright): load, click, switch, share."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

POINT_JS = """
() => {
  const gd = document.querySelector('#overview-graph .js-plotly-plot');
  const fl = gd._fullLayout;
  const t = gd._fullData.find(d => d.visible !== false && d.x && d.x.length > 0);
  const i = Math.floor(t.x.length / 2);
  const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return {x: box.left + fl.xaxis.d2p(t.x[i]), y: box.top + fl.yaxis.d2p(t.y[i]),
          neuron: t.customdata[i][0]};
}
"""


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def _ready(page) -> None:
    page.wait_for_selector("#head-list button.neuron-link", timeout=20_000)
    page.wait_for_selector("#overview-graph .nsewdrag", timeout=20_000)


def _no_errors(page) -> None:
    assert page.errors == [], page.errors


def test_page_loads(page, served):
    page.goto(served + "/")
    _ready(page)
    assert page.inner_text("h1") == "TX-Ray Explorer"
    assert "tiny.duckdb" in page.inner_text(".header")
    assert page.locator("#summary .stat-card").count() == 8
    assert page.locator("#tail-list button.neuron-link").count() == 10
    q = _query(page)
    assert (q["stage_a"], q["stage_b"]) == ("wiki_ep1", "wiki_ep48")
    page.wait_for_selector("#slope-graph .main-svg")
    _no_errors(page)


def test_click_scatter_point_updates_detail(page, served):
    page.goto(served + "/?stage_a=wiki_ep48&stage_b=wiki_ep49")
    _ready(page)
    page.wait_for_timeout(300)
    pt = page.evaluate(POINT_JS)
    page.mouse.move(pt["x"], pt["y"])
    page.wait_for_timeout(200)
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function(
        "n => document.querySelector('#detail-title').innerText.startsWith('Neuron ' + n + ' ')",
        arg=pt["neuron"], timeout=15_000)
    page.wait_for_selector("#token-bars .main-svg")
    assert _query(page)["neuron"] == str(pt["neuron"])
    assert page.locator("#detail-numbers tbody tr").count() == 5
    _no_errors(page)


def test_click_list_entry_updates_detail(page, served):
    page.goto(served + "/?stage_a=wiki_ep48&stage_b=wiki_ep49")
    _ready(page)
    first = page.locator("#tail-list button.neuron-link").first
    neuron = first.locator(".nid").inner_text().lstrip("#")
    first.click()
    page.wait_for_function(
        "n => document.querySelector('#detail-title').innerText.startsWith('Neuron ' + n + ' ')",
        arg=neuron, timeout=15_000)
    assert _query(page)["neuron"] == neuron
    _no_errors(page)


def test_switch_stage_pair(page, served):
    page.goto(served + "/?stage_a=wiki_ep48&stage_b=wiki_ep49&neuron=3")
    _ready(page)
    page.click("#stage-b")
    page.click("label.dash-dropdown-option:has-text('imdb_zero_shot (zero_shot)')")
    page.wait_for_function("() => document.querySelector('#overview-title').innerText"
                           ".includes('wiki_ep48 → imdb_zero_shot')", timeout=15_000)
    q = _query(page)
    assert (q["stage_a"], q["stage_b"], q["neuron"]) == ("wiki_ep48", "imdb_zero_shot", "3")
    page.wait_for_function("() => document.querySelector('#detail-title').innerText"
                           ".includes('imdb_zero_shot')", timeout=15_000)
    page.click("#swap")
    page.wait_for_function("() => document.querySelector('#overview-title').innerText"
                           ".includes('imdb_zero_shot → wiki_ep48')", timeout=15_000)
    assert _query(page)["stage_a"] == "imdb_zero_shot"
    _no_errors(page)


def test_shared_url_reopens_the_same_view(page, browser, served):
    url = served + "/?stage_a=wiki_ep49&stage_b=imdb_supervised&kind=pos&x=len_b&neuron=5"
    page.goto(url)
    _ready(page)
    page.wait_for_function("() => document.querySelector('#detail-title').innerText"
                           ".startsWith('Neuron 5 ')", timeout=15_000)
    assert "wiki_ep49 (pretrain)" in page.inner_text("#stage-a")
    assert "imdb_supervised (supervised)" in page.inner_text("#stage-b")
    assert page.is_checked("#kind input[value=pos]")
    assert page.is_checked("#x-measure input[value=len_b]")
    assert "· pos" in page.inner_text("#overview-title")
    assert _query(page) == {"stage_a": "wiki_ep49", "stage_b": "imdb_supervised", "kind": "pos",
                            "x": "len_b", "variant": "paper", "neuron": "5"}
    _no_errors(page)


def test_bad_url_shows_a_message_not_a_traceback(page, served):
    page.goto(served + "/?stage_a=nope&neuron=banana")
    _ready(page)
    text = page.inner_text("#messages")
    assert "Unknown stage A 'nope'" in text and "not a number" in text
    assert "Traceback" not in page.content()
    _no_errors(page)


def test_token_search_lists_neurons(page, served):
    page.goto(served + "/?stage_a=wiki_ep48&stage_b=wiki_ep49")
    _ready(page)
    page.fill("#token-input", "the")
    page.click("#token-go")
    page.wait_for_selector(".search-panel button.neuron-link", timeout=15_000)
    assert re.search(r"wiki_ep48: neurons with 'the' \(\d+\)", page.inner_text(".search-panel"))
    _no_errors(page)


def test_csv_download_of_the_current_pair(page, served):
    page.goto(served + "/?stage_a=wiki_ep48&stage_b=wiki_ep49")
    _ready(page)
    with page.expect_download(timeout=15_000) as info:
        page.click("#download-overview")
    download = info.value
    assert download.suggested_filename == "txray_wiki_ep48_vs_wiki_ep49_token_paper.csv"
    lines = open(download.path(), encoding="utf-8").read().strip().splitlines()
    assert lines[0].startswith("neuron,hellinger,len_a,len_b") and len(lines) == 48 + 1
    _no_errors(page)
