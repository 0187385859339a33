"""Presets: `paper` is DESIGN §3's setup; TOML and flags override; bad values fail clearly."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from precompute.presets import (DEMO, PAPER, PRESETS, PipelineConfig, add_config_flags,
                                build_config, load_toml, overrides_from_args)


def test_paper_preset_matches_design_section_3():
    assert PRESETS["paper"] is PAPER
    assert PAPER.hidden == 1500                      # 1-layer LSTM, 1500 hidden units
    assert 45 <= PAPER.lm_epochs <= 55               # trained ~50 epochs
    assert PAPER.snapshots == (1, 48, 49)            # snapshots at epochs 1, 48, 49
    assert PAPER.record_tokens == 400_000            # first 400,000 tokens fed to each stage
    assert PAPER.vocab_size is None                  # the full WikiText-2 vocabulary
    assert PAPER.lm_train_tokens is None and PAPER.lm_valid_tokens is None
    assert PAPER.clf_target_f1 == pytest.approx(0.80)  # fine-tuned to ~80% F1
    assert PAPER.clf_train_reviews is None and PAPER.clf_test_reviews is None
    assert PAPER.max_review_tokens is None           # whole reviews
    assert PAPER.top_k == 1                          # argmax recording
    assert PAPER.prune_k == 20 and PAPER.prune_seeds >= 5
    assert PAPER.tagger == "spacy"


def test_demo_is_a_scaled_down_paper():
    assert DEMO.hidden < PAPER.hidden and DEMO.record_tokens < PAPER.record_tokens
    assert max(DEMO.snapshots) <= DEMO.lm_epochs and len(DEMO.snapshots) >= 3
    assert DEMO.prune_seeds >= 5 and DEMO.top_k == 1


def test_toml_then_flags_override_the_preset(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "demo"\nhidden = 64\nsnapshots = [1, 2, 3]\nlm_epochs = 3\n'
                 'vocab_size = "none"\nlm_lr = 1\n')
    toml = load_toml(f)
    cfg = build_config("demo", toml=toml, overrides={"hidden": "32"})
    assert cfg.hidden == 32 and cfg.snapshots == (1, 2, 3) and cfg.vocab_size is None
    assert cfg.lm_lr == 1.0 and isinstance(cfg.lm_lr, float)
    assert cfg.emb_dim == DEMO.emb_dim


def test_cli_flags_parse_into_overrides():
    p = argparse.ArgumentParser()
    add_config_flags(p)
    args = p.parse_args(["--lm-epochs", "4", "--snapshots", "1", "3", "--clf-target-f1", "none"])
    over = overrides_from_args(args)
    assert over == {"lm_epochs": "4", "snapshots": ["1", "3"], "clf_target_f1": "none"}
    cfg = build_config("demo", overrides=over)
    assert cfg.lm_epochs == 4 and cfg.snapshots == (1, 3) and cfg.clf_target_f1 is None


@pytest.mark.parametrize("bad, message", [
    ({"snapshots": [1, 9]}, "snapshots"),
    ({"tagger": "nltk"}, "tagger"),
    ({"hidden": "many"}, "hidden must be int"),
    ({"hidden": None}, "cannot be none"),
    ({"lm_optimizer": "rmsprop"}, "lm_optimizer"),
])
def test_invalid_values_are_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        build_config("demo", overrides=bad)


def test_unknown_toml_key_and_preset(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("hiden = 3\n")
    with pytest.raises(ValueError, match="hiden"):
        load_toml(f)
    with pytest.raises(ValueError, match="unknown preset"):
        build_config("huge")


def test_config_round_trips_through_dict():
    d = PAPER.to_dict()
    assert d["snapshots"] == [1, 48, 49]
    assert PipelineConfig(**{**d, "snapshots": tuple(d["snapshots"])}) == PAPER
    assert set(d) == {f.name for f in dataclasses.fields(PipelineConfig)}


def test_example_configs_are_valid():
    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.toml"))
    assert files
    for f in files:
        data = load_toml(f)
        cfg = build_config(data.get("preset", "demo"), toml=data)
        assert isinstance(cfg, PipelineConfig)
    paper = load_toml(root / "paper_gpu.toml")
    assert build_config(paper["preset"], toml=paper) == PAPER
