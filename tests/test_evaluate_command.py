"""evaluate on a tiny synthetic ml-100k-like folder (never the real data): report files and rows.

The encoder and fine-tuning are deterministic fakes, so no TensorFlow and no database."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommendations.management.commands.evaluate import MODELS
from recommendations.ml import finetune, pipeline
from tests.test_recommend_offline import FakeEncoder

N_USERS, N_FILMS = 90, 48
GENRES = 19


@pytest.fixture
def fakes(monkeypatch):
    calls = {"finetunes": 0}

    def fake_fine_tune(encoder, pairs, **kwargs):
        calls["finetunes"] += 1
        calls["max_steps"] = kwargs.get("max_steps")
        calls["max_seconds"] = kwargs.get("max_seconds")
        encoder.tuned = True
        return finetune.FineTuneResult(losses=[1.0], steps=1, pairs_used=len(pairs))

    monkeypatch.setattr(pipeline, "_default_encoder_loader", FakeEncoder)
    monkeypatch.setattr(finetune, "fine_tune", fake_fine_tune)
    return calls


def make_folder(root: Path) -> Path:
    """u.data / u.item in ml-100k's formats, and an overviews CSV matching some titles."""
    rng = np.random.default_rng(0)
    (root / "ml-100k").mkdir(parents=True)
    (root / "overviews").mkdir()
    group = np.arange(N_FILMS) % 3
    lines = []
    for u in range(1, N_USERS + 1):
        p = np.where(group == u % 3, 0.6, 0.08)
        items = np.flatnonzero(rng.random(N_FILMS) < p)
        if items.size < 20:
            items = np.union1d(items, rng.choice(N_FILMS, 20, replace=False))
        for t, i in enumerate(items):
            lines.append(f"{u}\t{i + 1}\t{int(rng.integers(1, 6))}\t{880000000 + 1000 * u + t}")
    (root / "ml-100k" / "u.data").write_text("\n".join(lines) + "\n")
    with (root / "ml-100k" / "u.item").open("w", encoding="latin-1") as fh:
        for i in range(N_FILMS):
            flags = ["0"] * GENRES
            flags[1 + group[i]] = "1"
            fh.write("|".join([str(i + 1), f"Film {i} (1990)", "01-Jan-1990", "", "http://x", *flags]) + "\n")
    with (root / "overviews" / "movies_enriched.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["movieId", "title", "genres", "imdbId", "tmdbId", "overview", "tagline", "runtime", "tmdb_rating"])
        for i in range(0, N_FILMS, 2):  # half the films matched
            w.writerow([1000 + i, f"Film {i} (1990)", "Drama", "", "", f"Overview of film {i}.", "", "", ""])
    return root


def test_writes_report_and_chart_with_every_model(tmp_path: Path, fakes) -> None:
    data = make_folder(tmp_path / "data")
    out_dir = tmp_path / "docs"
    stdout = StringIO()
    call_command(
        "evaluate",
        "--data", str(data),
        "--out-dir", str(out_dir),
        "--finetune-seconds", "500",
        "--json", str(tmp_path / "raw.json"),
        stdout=stdout,
    )  # fmt: skip
    md = (out_dir / "quality.md").read_text()
    png = (out_dir / "quality.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    for fb in ("user", "item"):
        assert f"## `filter_by='{fb}'`" in md and f"### Cold-start simulation on `filter_by='{fb}'`" in md
    # Each split has 2 overall and 2 bucket tables (real and cold), each with every model row.
    for label in MODELS.values():
        assert md.count(f"| {label} |") == 8, label
    assert "50.0%" in md  # overview coverage: half the films are matched
    raw = json.loads((tmp_path / "raw.json").read_text())
    for fb in ("user", "item"):
        real, cold = raw["runs"][fb]["real"], raw["runs"][fb]["cold"]
        assert {"popularity", "ease", "ease300", "content", "content_ft", "hybrid"} <= set(real["overall"])
        assert cold["buckets"]["hybrid"]["<=5"]["n_users"] > 0  # the simulation fills the ≤5 bucket
        assert real["buckets"]["hybrid"]["<=5"]["n_users"] == 0
        for m in real["overall"].values():
            assert 0.0 <= m["ndcg"] <= 1.0
        for run in (real, cold):  # the zero-shot ablation is the pipeline's discarded fit, not a refit
            assert ("hybrid_zs" in run["overall"]) == (run["info"]["pipeline"]["vectors"] == "fine-tuned")
            if "hybrid_zs" in run["overall"]:
                assert run["info"]["hybrid_zs"] == "the pipeline's own fit with the zero-shot vectors (not kept)"
    assert fakes["finetunes"] == 4  # one per pipeline run: 2 splits x (real, cold)
    assert "Checks" in md and "hybrid nDCG@10" in md
    # The saved numbers re-render the same report without recomputing anything.
    (out_dir / "quality.md").unlink()
    call_command("evaluate", "--from-json", str(tmp_path / "raw.json"), "--out-dir", str(out_dir), stdout=StringIO())
    assert (out_dir / "quality.md").read_text() == md


def test_no_content_still_lists_every_model(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data")
    call_command("evaluate", "--data", str(data), "--out-dir", str(tmp_path), "--filter-by", "user", "--no-content", "--no-cold", stdout=StringIO())
    md = (tmp_path / "quality.md").read_text()
    for label in MODELS.values():
        assert f"| {label} |" in md
    assert "not run: --no-content" in md


def test_pinned_steps_replace_the_time_limit(tmp_path: Path, fakes) -> None:
    data = make_folder(tmp_path / "data")
    args = ("--data", str(data), "--out-dir", str(tmp_path), "--filter-by", "user", "--no-cold")
    call_command("evaluate", *args, "--finetune-steps", "3", stdout=StringIO())
    assert fakes["finetunes"] == 1 and fakes["max_steps"] == 3
    assert fakes["max_seconds"] > 3600  # only the (day-long) evaluation budget bounds it
    assert "fine-tuning 3 steps per pipeline run" in (tmp_path / "quality.md").read_text()
    with pytest.raises(CommandError, match="--finetune-steps must be >= 0"):
        call_command("evaluate", *args, "--finetune-steps", "-1", stdout=StringIO())


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="u.data not found"):
        call_command("evaluate", "--data", str(tmp_path), "--out-dir", str(tmp_path), stdout=StringIO())
