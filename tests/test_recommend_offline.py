"""recommend_offline on small synthetic CSVs. No database (pytest-django blocks it here), and
no TensorFlow: the encoder and fine-tuning are replaced by deterministic fakes, except in
the one test marked slow."""

from __future__ import annotations

import csv
import hashlib
import re
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommendations.ml import finetune, pipeline

N_USERS, N_FILMS, K = 60, 40, 5


class FakeEncoder:
    """Vectors from a hash of the text; after a (fake) fine-tune they change."""

    model = object()  # marks it as fine-tunable

    def __init__(self) -> None:
        self.tuned = False
        self.calls = 0

    def embed(self, texts, batch_size=64, max_length=128, progress=None):
        self.calls += 1
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int(hashlib.sha256((t + str(self.tuned)).encode()).hexdigest()[:8], 16)
            out[i] = np.random.default_rng(seed).normal(size=16)
        if progress:
            progress(len(texts), len(texts))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fakes(monkeypatch):
    state = {"loads": 0, "finetunes": 0}

    def load():
        state["loads"] += 1
        return FakeEncoder()

    def fake_fine_tune(encoder, pairs, **kwargs):
        state["finetunes"] += 1
        state["pairs"] = len(pairs)
        encoder.tuned = True
        return finetune.FineTuneResult(losses=[1.0, 0.5], steps=2, seconds=0.0, pairs_used=len(pairs))

    monkeypatch.setattr(pipeline, "_default_encoder_loader", load)
    monkeypatch.setattr(finetune, "fine_tune", fake_fine_tune)
    return state


def write_inputs(tmp: Path, seed: int = 0) -> tuple[Path, Path, dict[str, set[str]]]:
    """Two taste groups; string ids on purpose (users 'u-007', films 'tt-A03')."""
    rng = np.random.default_rng(seed)
    films = [f"tt-{'AB'[i % 2]}{i:02d}" for i in range(N_FILMS)]
    seen: dict[str, set[str]] = {}
    with (tmp / "TRAIN.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["userID", "itemID", "rating", "timestamp"])
        for u in range(N_USERS):
            user = f"u-{u:03d}"
            mine = [f for f in films if f[3] == "AB"[u % 2]]
            picks = [*rng.choice(mine, size=int(rng.integers(6, 14)), replace=False), films[int(rng.integers(N_FILMS))]]
            seen[user] = set(picks)
            for t, film in enumerate(dict.fromkeys(picks)):
                w.writerow([user, film, float(rng.integers(1, 6)), 1_000_000 + 100 * u + t])
        # A rated film missing from MOVIES.csv is kept (no text).
        w.writerow(["u-000", "tt-ghost", 4.0, 1_000_000])
        seen["u-000"].add("tt-ghost")
    with (tmp / "MOVIES.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["itemID", "title", "genres", "overview", "directors", "actors", "tags"])
        for f in films:
            genre = "Action|Thriller" if f[3] == "A" else "Romance|Comedy"
            w.writerow([f, f"Film {f} (1999)", genre, f"A story, with commas, about {f}.", "Some One", "A B|C D", "tag"])
    return tmp / "TRAIN.csv", tmp / "MOVIES.csv", seen


def run(tmp: Path, *args: str) -> tuple[list[dict[str, str]], str]:
    out = StringIO()
    call_command("recommend_offline", *args, "--out", str(tmp / "RECS.csv"), stdout=out)
    with (tmp / "RECS.csv").open(newline="") as fh:
        return list(csv.DictReader(fh)), out.getvalue()


def test_writes_k_unseen_films_per_user_with_string_ids(tmp_path: Path, fakes) -> None:
    train, movies, seen = write_inputs(tmp_path)
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", str(K), "--budget-seconds", "3600")
    assert list(rows[0]) == ["userID", "itemID", "prediction"]
    by_user: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_user.setdefault(r["userID"], []).append(r)
    assert set(by_user) == set(seen)
    catalogue = {f"tt-{'AB'[i % 2]}{i:02d}" for i in range(N_FILMS)} | {"tt-ghost"}
    for user, recs in by_user.items():
        assert len(recs) == K
        items = [r["itemID"] for r in recs]
        assert len(set(items)) == K and not set(items) & seen[user] and set(items) <= catalogue
        preds = [float(r["prediction"]) for r in recs]
        assert preds == sorted(preds, reverse=True)
    # Collaborative signal: most recommendations come from the user's own taste group.
    same = np.mean([r["itemID"][3] == "AB"[int(r["userID"][2:]) % 2] for r in rows])
    assert same > 0.8
    assert fakes["finetunes"] == 1 and fakes["pairs"] > 0
    assert "wrote" in log and "time per stage" in log
    peaks = re.search(r"peak RSS when each stage ended \(MB\): (.*)", log)
    assert peaks, log
    values = [int(part.rsplit(" ", 1)[1]) for part in peaks.group(1).split(", ")]
    assert "fit hybrid" in peaks.group(1) and all(v > 0 for v in values)
    assert values == sorted(values), "a high-water mark, listed in the order the stages ended"


def test_users_file_and_unknown_user(tmp_path: Path, fakes) -> None:
    train, movies, seen = write_inputs(tmp_path)
    users = tmp_path / "USERS.txt"
    users.write_text("userID\nu-001\n\nnewcomer\nu-001\n")
    rows, _ = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", "3", "--users", str(users), "--no-content")
    assert [r["userID"] for r in rows] == ["u-001"] * 3 + ["newcomer"] * 3
    assert not {r["itemID"] for r in rows if r["userID"] == "u-001"} & seen["u-001"]
    # The cold-start ranking is popularity, not an arbitrary tie order.
    counts: dict[str, int] = {}
    for s in seen.values():
        for f in s:
            counts[f] = counts.get(f, 0) + 1
    top = sorted(counts.values(), reverse=True)[:3]
    assert sorted((counts[r["itemID"]] for r in rows if r["userID"] == "newcomer"), reverse=True) == top
    assert fakes["loads"] == 0  # --no-content: the encoder is never loaded


def test_tiny_budget_skips_finetuning_then_content(tmp_path: Path, fakes) -> None:
    train, movies, _ = write_inputs(tmp_path)
    # Enough for the (planned) base embedding, not for fine-tuning.
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", str(K), "--budget-seconds", "40")
    assert fakes["loads"] == 1 and fakes["finetunes"] == 0
    assert "fine-tuning: skipped (budget" in log and len(rows) == N_USERS * K
    # Too small even to embed: collaborative + popularity only, no encoder at all.
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", str(K), "--budget-seconds", "5")
    assert fakes["loads"] == 1 and "content: skipped (budget)" in log and len(rows) == N_USERS * K


def test_deterministic(tmp_path: Path, fakes) -> None:
    train, movies, _ = write_inputs(tmp_path)
    args = ("--ratings", str(train), "--movies", str(movies), "--budget-seconds", "3600")
    first, _ = run(tmp_path, *args)
    second, _ = run(tmp_path, *args)
    assert first == second


@pytest.mark.parametrize(
    ("which", "content", "message"),
    [
        ("ratings", "userID,itemID,rating,timestamp\nu1,m1,4,100\nu1,m2,abc,101\n", "TRAIN.csv:3: rating 'abc' is not a number"),
        ("ratings", "userID,itemID,rating,timestamp\nu1,m1,4\n", "TRAIN.csv:2: expected 4 fields, found 3"),
        ("ratings", "userID,itemID,rating,timestamp,extra\nu1,m1,4,1,x\n", "TRAIN.csv:1: unknown column(s) 'extra'"),
        ("ratings", "userID,itemID,rating\nu1,m1,4\n", "TRAIN.csv:1: missing column(s) timestamp"),
        ("ratings", "userID,itemID,rating,timestamp\nu1,,4,1\n", "TRAIN.csv:2: empty itemID"),
        ("ratings", "userID,itemID,rating,timestamp\nu1,m1,nan,1\n", "TRAIN.csv:2: rating 'nan' is not a finite number"),
        ("ratings", "", "TRAIN.csv:1: empty file"),
        ("ratings", "userID,itemID,rating,timestamp\n", "TRAIN.csv: no ratings"),
        ("movies", "itemID,title,genres\nm1,A,Drama\nm1,B,Drama\n", "MOVIES.csv:3: duplicate itemID 'm1' (first on line 2)"),
        ("movies", "itemID,title,genres,year\nm1,A,Drama,1999\n", "MOVIES.csv:1: unknown column(s) 'year'"),
        ("movies", 'itemID,title,genres\nm1,"A\nlong",Drama\nm2,B\n', "MOVIES.csv:4: expected 3 fields, found 2"),
    ],
)
def test_malformed_input_names_file_line_and_reason(tmp_path: Path, which: str, content: str, message: str) -> None:
    train, movies, _ = write_inputs(tmp_path)
    (train if which == "ratings" else movies).write_text(content)
    with pytest.raises(CommandError) as err:
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content")
    assert message in str(err.value)
    assert not (tmp_path / "RECS.csv").exists()


def test_aliases_and_ignored_columns(tmp_path: Path) -> None:
    """MovieLens headers (userId, movieId) are accepted; extra columns only with the flag."""
    train, movies, _ = write_inputs(tmp_path)
    text = train.read_text().replace("userID,itemID", "userId,movieId", 1)
    train.write_text(text)
    movies.write_text(movies.read_text().replace("tags\n", "tags,year\n", 1).replace("tag\n", "tag,1999\n"))
    rows, _ = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--no-content", "--ignore-unknown-columns", "--k", "2")
    assert len(rows) == N_USERS * 2


def test_bad_arguments(tmp_path: Path) -> None:
    train, movies, _ = write_inputs(tmp_path)
    with pytest.raises(CommandError, match="--k must be at least 1"):
        run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", "0")
    with pytest.raises(CommandError, match="file not found"):
        run(tmp_path, "--ratings", str(tmp_path / "nope.csv"), "--movies", str(movies))


@pytest.mark.slow
def test_real_encoder_embeds_and_budget_skips_finetuning(tmp_path: Path) -> None:
    """The real MiniLM path (TensorFlow): base vectors are computed, fine-tuning is skipped
    because 60 s cannot pay for it, and the run stays within its budget."""
    train, movies, _ = write_inputs(tmp_path)
    rows, log = run(tmp_path, "--ratings", str(train), "--movies", str(movies), "--k", str(K), "--budget-seconds", "60")
    assert len(rows) == N_USERS * K
    assert "embedding 40 films with the base encoder" in log and "fine-tuning: skipped (budget" in log
    assert "content vectors used: base" in log


@pytest.mark.slow
def test_real_encoder_fine_tunes_in_a_child_process(tmp_path: Path) -> None:
    """TensorFlow runs in spawned children (its memory goes back when they exit): the base
    embedding, then the pinned fine-tuning steps and the re-embedding, whose progress reaches
    this process's log."""
    train, movies, _ = write_inputs(tmp_path)
    args = ("--ratings", str(train), "--movies", str(movies), "--k", str(K), "--finetune-steps", "2", "--budget-seconds", "900")
    rows, log = run(tmp_path, *args)
    assert len(rows) == N_USERS * K
    assert "embedding 40 films with the base encoder (in a child process)" in log
    assert "step 1/2 loss" in log and "'steps': 2" in log and "'isolated': True" in log
    assert "tuned: 40/40 films" in log
    child = re.search(r"peak RSS of the largest child process \(TensorFlow work\) \(MB\): (\d+)", log)
    assert child and int(child.group(1)) > 300, log  # MiniLM and TensorFlow were loaded there


def test_tiny_input_and_fully_seen_user(tmp_path: Path) -> None:
    """Two users, three films: still runs; a user who rated everything gets no rows."""
    (tmp_path / "T.csv").write_text("userID,itemID,rating,timestamp\n1,10,5,1\n1,20,4,2\n1,30,4,2\n2,20,3,3\n")
    (tmp_path / "M.csv").write_text("itemID,title,genres\n10,X (1990),Drama\n20,Y,Comedy|Drama\n30,Z,\n")
    rows, _ = run(tmp_path, "--ratings", str(tmp_path / "T.csv"), "--movies", str(tmp_path / "M.csv"), "--no-content")
    assert {r["userID"] for r in rows} == {"2"} and {r["itemID"] for r in rows} == {"10", "30"}
