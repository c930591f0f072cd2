"""recommend_offline at the edges: arguments and files that once crashed or misled (found in review).

Each bad case fails with a clear message before any training, and each odd-but-valid case gives
full, honest output. Same fakes as tests/test_recommend_offline.py (no TensorFlow, no database)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError

from recommendations.ml import pipeline
from tests.test_recommend_offline import N_USERS, fakes, run, write_inputs  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("budget", ["inf", "nan", "-1"])
def test_budget_must_be_a_finite_positive_number(tmp_path: Path, budget: str) -> None:
    train, movies, _ = write_inputs(tmp_path)
    with pytest.raises(CommandError, match="--budget-seconds must be a positive number"):
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--budget-seconds", budget)


def test_unwritable_out_fails_before_training(tmp_path: Path, fakes) -> None:  # noqa: F811
    train, movies, _ = write_inputs(tmp_path)
    (tmp_path / "RECS.csv").mkdir()  # run() writes to tmp_path / "RECS.csv": here a directory
    with pytest.raises(CommandError, match="RECS.csv: is a directory"):
        run(tmp_path, "--ratings", str(train), "--movies", str(movies))
    assert fakes["loads"] == 0


def test_output_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    old = os.umask(0o022)
    try:
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--k", "2")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "RECS.csv").stat().st_mode) == 0o644
    assert not list(tmp_path.glob(".recs-*"))  # no temporary or probe file left behind


def test_integer_ids_beyond_64_bits(tmp_path: Path) -> None:
    big = 10**20
    (tmp_path / "T.csv").write_text(
        "userID,itemID,rating,timestamp\n" + "".join(f"{u},{big + i},4,{u * 10 + i}\n" for u in (1, 2, 3) for i in range(u, u + 3))
    )
    (tmp_path / "M.csv").write_text("itemID,title,genres\n" + "".join(f"{big + i},F{i},Drama\n" for i in range(8)))
    rows, _ = run(tmp_path, "--ratings", str(tmp_path / "T.csv"), "--movies", str(tmp_path / "M.csv"), "--no-content", "--k", "2")
    assert [r["userID"] for r in rows] == ["1", "1", "2", "2", "3", "3"]  # numeric order, ids kept as written
    assert all(int(r["itemID"]) >= big for r in rows)


def test_users_file_quoted_ids_and_empty_file(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    users = tmp_path / "USERS.txt"
    users.write_text('"u-001"\n"u-002"\n')
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--k", "2", "--users", str(users))
    assert [r["userID"] for r in rows] == ["u-001", "u-001", "u-002", "u-002"]
    assert "no ratings" not in log
    users.write_text("\n\n")
    with pytest.raises(CommandError, match="USERS.txt: no user ids"):
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--users", str(users))


def test_mostly_unknown_users_are_warned_about(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    users = tmp_path / "USERS.txt"
    users.write_text("u-001\n1\n2\n")
    _, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--k", "2", "--users", str(users))
    assert "2 of 3 users have no ratings" in log and "WARNING: most listed users are not in the ratings file" in log


def test_huge_k_gives_every_unseen_film_and_says_so(tmp_path: Path) -> None:
    train, movies, seen = write_inputs(tmp_path)
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--k", "2000000000")
    catalogue = 41  # 40 films in MOVIES.csv + one rated film without a row there
    assert len(rows) == sum(catalogue - len(s) for s in seen.values())
    assert f"{N_USERS} users have fewer than 2000000000 films they have not rated (0 have none)" in log


def test_lists_reach_k_when_the_budget_cuts_the_catalogue(tmp_path: Path, monkeypatch) -> None:
    """A tight budget fits the hybrid on the most-rated films only; the rest still fill the lists,
    below every fitted film, by popularity."""
    train, movies, seen = write_inputs(tmp_path)
    keep = pipeline._keep_items
    monkeypatch.setattr(pipeline, "_keep_items", lambda x, max_items: keep(x, 12))
    k = 20  # more than the 12 fitted films, fewer than any user's unseen films
    rows, _ = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--k", str(k))
    per_user: dict[str, list[tuple[str, float]]] = {}
    for r in rows:
        per_user.setdefault(r["userID"], []).append((r["itemID"], float(r["prediction"])))
    assert all(len(v) == k for v in per_user.values())
    assert all(not {i for i, _ in v} & seen[u] for u, v in per_user.items())
    assert all([p for _, p in v] == sorted((p for _, p in v), reverse=True) for v in per_user.values())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('userID,itemID,rating,timestamp\nu1,m1,4,1\nu1,"m2,4,2\nu2,m1,3,3\n', "TRAIN.csv:3: expected 4 fields, found 2 (the record runs on for 1 more lines: an unclosed quote?)"),
        ("userID\titemID\trating\ttimestamp\nu1\tm1\t4\t1\n", "TRAIN.csv:1: the header looks tab-separated"),
    ],
)
def test_unclosed_quote_and_tabs_are_named(tmp_path: Path, content: str, message: str) -> None:
    train, movies, _ = write_inputs(tmp_path)
    train.write_text(content)
    with pytest.raises(CommandError) as err:
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content")
    assert message in str(err.value)


def test_an_overrun_budget_is_reported(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    _, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--budget-seconds", "0.001")
    assert "WARNING: over the budget by" in log


def test_start_up_counts_against_the_budget_when_run_as_a_command(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "movierec.settings_test"}
    args = ["--ratings", str(train), "--movies", str(movies), "--no-content", "--k", "2", "--out", str(tmp_path / "R.csv")]
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "recommend_offline", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]  # "[  1.2s] read ...": the clock started with the process
    assert first.startswith("[") and float(first[1:].split("s]")[0]) > 0.2, first
