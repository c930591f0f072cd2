"""ML-32M scale on this machine, from the synthetic data of benchmarks/synth_ml32m.py.

Each step runs in its own child process (so memory figures are that process's own) and
prints one JSON line; the parent prints a summary and writes it with --json.

* import: the project's importer (parse_dataset + import_dataset, i.e. manage.py import_movielens)
  into a fresh SQLite database, once per --import-sizes entry (the head of ratings.csv: 0 = films
  only, the baseline the per-rating figures are taken over; "full" = all 32M), each in its own child
  process: wall time, ratings/s, peak RSS (getrusage) and MB per million ratings, and with
  --reimport an unchanged re-import. With --legacy-ref the importer of that git ref (read with
  `git show`, nothing checked out) is measured alongside at sizes up to --legacy-max, e.g. the
  pre-#8 code at 70518cf, which holds every parsed row as Python objects.

  Measured 2026-11-28 on the shared 2-core machine at nice 10, 87,000 films; ratings/s and MB per
  million ratings are taken over a films-only import (size 0) of the same code:

      load ~6, same run     ratings  total s  ratings/s  peak RSS  MB/M ratings  re-import s
      before (70518cf)           1M    209.4      5,219  1,024 MB           694         33.0
      after                      1M    125.6      9,363    405 MB           108         10.0
      load ~1.5, after           0        11.6          -    297 MB             -          3.1
                                 1M     71.6     16,667    401 MB           104          7.1
                                 4M    270.6     15,444    632 MB            84         17.8
      parse + sort only (after)  32M     31.3  1.7M/s parse 2,065 MB            55            -
  A full 32M import through manage.py import_movielens (same day, load ~2): peak RSS 2,152 MB, flat
  while writing; 22.1M ratings written in 37 min (17k/s at first, 6.5k/s at 22M as SQLite's single
  import transaction grows its WAL), stopped for time: about 1 h for all 32M. Session 3, with
  `--cache-mb 2000` and Rating.created_at unindexed: all 32M in 29.5 min (19.1k/s), peak 4.88 GB.
* train: the collaborative model exactly as train_collab fits it (fit_collab, kind auto: RP3beta
  above 20k films) on all 32M ratings, BLAS on 2 threads; wall time and peak memory.
* serve: a serving process: Django set up, then store.load_bundle on an 87k x 384 float32
  embedding artifact plus the trained collaborative artifact (through the storage API, as
  production loads it). RSS after loading and its peak. Then the cost of one user's cache miss
  (engine.score_user + top 300 + explanations, everything but 3 small DB reads) for 300 users drawn
  at random: p50/p99. A cache hit does not depend on the catalogue size (see load_recs.py).
* embed: films/s of the base encoder on film texts of realistic length, extrapolated to the
  catalogue (a full refresh; a refresh with only_changed embeds only new and edited films).
* ann: exact top-k (E @ u + argpartition, d = 384) per query as the catalogue grows, to place the
  point where an approximate index (FAISS HNSW, Atlas Vector Search) should take over.

    .venv/bin/python benchmarks/synth_ml32m.py --out var/synth
    .venv/bin/python benchmarks/scale.py --data var/synth [--steps import,train,serve,embed,ann] [--json out.json]
    nice -n 10 .venv/bin/python benchmarks/scale.py --steps import --import-sizes 0,1e6,4e6 --legacy-ref 70518cf --reimport
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STEPS = ("import", "train", "serve", "embed", "ann")


def mem_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": round(fields["VmRSS"]), "peak_mb": round(fields["VmHWM"])}


def django_env(work: Path, database: bool) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="movierec.settings",
        DJANGO_DEBUG="1",
        MOVIEREC_VAR_DIR=str(work),
        DJANGO_MEDIA_ROOT=str(work / "media"),
        SQLITE_PATH=str(work / "db.sqlite3"),
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    import django

    django.setup()
    if database:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def load_synth(data: Path) -> dict[str, Any]:
    import numpy as np

    with np.load(data / "synth.npz") as z:
        return {k: np.asarray(z[k]) for k in z.files}


# --- steps (each in a child process) --------------------------------------------


def write_slice(data: Path, rows: int | None, dest: Path) -> int:
    """movies.csv and the first `rows` lines of ratings.csv (all when None): the file's own text."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("movies.csv", "ratings.csv"):
        (dest / name).unlink(missing_ok=True)
    (dest / "movies.csv").symlink_to((data / "movies.csv").resolve())
    if rows is None:
        (dest / "ratings.csv").symlink_to((data / "ratings.csv").resolve())
        with (data / "ratings.csv").open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1
    with (data / "ratings.csv").open("rb") as src, (dest / "ratings.csv").open("wb") as out:
        for _ in range(rows + 1):
            line = src.readline()
            if not line:
                break
            out.write(line)
    return rows


def legacy_modules(ref: str, work: Path) -> tuple[Any, Any]:
    """The parser and importer as they were at git `ref` (read with `git show`, nothing checked out)."""
    import importlib.util

    folder = work / "legacy"
    folder.mkdir(exist_ok=True)
    modules = []
    for name in ("movielens", "importer"):
        source = subprocess.run(
            ["git", "show", f"{ref}:catalog/{name}.py"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        path = folder / f"legacy_{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(f"legacy_{name}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = module  # type: ignore[union-attr]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        modules.append(module)
    return modules[0], modules[1]


def step_import(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One import (parse_dataset + import_dataset, as manage.py import_movielens) into a fresh SQLite DB.

    Peak memory is this process's (getrusage) over its resident memory once Django is set up.
    """
    django_env(work, database=True)
    if args.legacy:
        movielens, importer = legacy_modules(args.legacy, work)
    else:
        from catalog import importer, movielens

    phases: dict[str, float] = {}

    def timed(label: str, items):
        start = time.perf_counter()
        yield from items
        phases[label] = phases.get(label, 0.0) + time.perf_counter() - start

    base = mem_mb()["rss_mb"]
    t0 = time.perf_counter()
    data = movielens.parse_dataset(args.slice)
    t_parse = time.perf_counter() - t0
    parsed_mb = mem_mb()["rss_mb"] - base
    if args.parse_only:
        return parse_only(args, importer, data, t_parse, parsed_mb, base)
    t1 = time.perf_counter()
    importer.import_dataset(data, progress=timed)
    t_write = time.perf_counter() - t1
    n = len(data.ratings)
    t_ratings = phases.get("ratings", 0.0) + phases.get("existing ratings", 0.0)
    del data
    again = None
    if args.reimport:  # idempotent rerun over the stored ratings (no changes)
        t2 = time.perf_counter()
        importer.import_dataset(movielens.parse_dataset(args.slice), progress=timed)
        again = round(time.perf_counter() - t2, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "code": f"legacy ({args.legacy})" if args.legacy else "chunked",
        "films": sum(1 for _ in (args.slice / "movies.csv").open()) - 1,
        "ratings": n,
        "seconds_parse": round(t_parse, 1),
        "seconds_write": round(t_write, 1),
        "seconds_ratings_write": round(t_ratings, 1),
        "seconds_total": round(t_parse + t_write, 1),
        "ratings_per_second": round(n / (t_parse + t_ratings)) if n else None,
        "seconds_reimport_unchanged": again,
        "parsed_mb": round(parsed_mb),
        "base_rss_mb": base,
        "peak_rss_mb": round(peak),
        "peak_mb_per_million_incl_films": round((peak - base) / (n / 1e6)) if n else None,
    }


def parse_only(
    args: argparse.Namespace, importer: Any, data: Any, t_parse: float, parsed_mb: float, base: float
) -> dict[str, Any]:
    """Everything an import holds in memory before its first rating is written, without a database write:
    the parsed columns, the per-film counters and the sorted (user, film) keys the writes are matched on."""
    import numpy as np

    t0 = time.perf_counter()
    importer._file_counters(data)
    movie_ids = np.array(sorted(data.movies), dtype=np.int64)
    rows = importer._SortedRatings.build(data.ratings, np.unique(data.ratings.user), movie_ids)
    seconds = time.perf_counter() - t0
    n = len(data.ratings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "code": "chunked, parse and sort only",
        "ratings": n,
        "sorted_rows": len(rows.key),
        "seconds_parse": round(t_parse, 1),
        "seconds_sort": round(seconds, 1),
        "parse_ratings_per_second": round(n / t_parse),
        "parsed_mb": round(parsed_mb),
        "base_rss_mb": base,
        "peak_rss_mb": round(peak),
        "peak_mb_per_million_incl_films": round((peak - base) / (n / 1e6)),
    }


def run_imports(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    """Each size (ratings, or "full") in a fresh child and database; the legacy code too, up to --legacy-max."""
    results = []
    for size in args.import_sizes.split(","):
        rows = None if size == "full" else int(float(size))  # 0: films only, the baseline
        folder = work / f"import-{size}"
        write_slice(args.data, rows, folder)
        codes = [None] + ([args.legacy_ref] if args.legacy_ref and rows is not None and rows <= args.legacy_max else [])
        for legacy in codes:
            extra = ["--slice", str(folder)] + (["--legacy", legacy] if legacy else [])
            extra += ["--reimport"] if args.reimport else []
            result = run_child("import", args, work / f"import-{size}-{'legacy' if legacy else 'new'}", extra)
            print(json.dumps(result), flush=True)
            results.append(result)
    for size in [x for x in args.parse_only_sizes.split(",") if x]:
        rows = None if size == "full" else int(float(size))
        folder = work / f"import-{size}"
        write_slice(args.data, rows, folder)
        result = run_child("import", args, work / f"parse-{size}", ["--slice", str(folder), "--parse-only"])
        print(json.dumps(result), flush=True)
        results.append(result)
    # Per million ratings, over the same code's films-only run (size 0) when there is one.
    films_only = {r["code"]: r for r in results if r.get("ratings") == 0}
    for r in results:
        zero = films_only.get(r.get("code"))
        if zero and r.get("ratings"):
            millions = r["ratings"] / 1e6
            r["peak_mb_per_million_ratings"] = round((r["peak_rss_mb"] - zero["peak_rss_mb"]) / millions)
            r["parsed_mb_per_million_ratings"] = round((r["parsed_mb"] - zero["parsed_mb"]) / millions)
            # The legacy code's "ratings" phase excludes its final bulk_create: compare totals instead.
            r["ratings_per_second_over_films_only"] = round(r["ratings"] / (r["seconds_total"] - zero["seconds_total"]))
    return results


def step_train(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import numpy as np

    from recommendations.ml.collab import fit_collab

    synth = load_synth(args.data)
    users, movies = synth["users"], synth["movies"]
    del synth
    t0 = time.perf_counter()
    item_ids, user_ids = np.unique(movies), np.unique(users)
    u, i = np.searchsorted(user_ids, users), np.searchsorted(item_ids, movies)
    model = fit_collab((u, i, np.ones(len(u), np.float32)), len(item_ids))
    seconds = time.perf_counter() - t0
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    model.save(work / "collab.npz")
    np.savez(work / "collab_index.npz", movie_ids=item_ids.astype(np.int64))
    nnz = int(model.weights.nnz) if hasattr(model.weights, "nnz") else int(model.weights.size)
    return {
        "kind": model.kind,
        "items": len(item_ids),
        "users": len(user_ids),
        "interactions": len(u),
        "weights_nnz": nnz,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu.ru_utime + cpu.ru_stime, 1),
        "artifact_mb": round((work / "collab.npz").stat().st_size / 2**20),
        **mem_mb(),
    }


def step_serve(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import numpy as np

    synth = load_synth(args.data)
    django_env(work, database=False)
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from recommendations import engine, store
    from recommendations.ml.ranking import top_k

    # Artifacts as training writes them (made here, before the baseline is taken).
    film_ids = np.unique(synth["movies"]).astype(np.int64)
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(len(film_ids), 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    embeddings_path = store.save_embeddings(1, film_ids, matrix, np.array(["0" * 16] * len(film_ids)))
    collab_path = default_storage.save("models/v1/collab.npz", ContentFile((work / "collab.npz").read_bytes()))
    with np.load(work / "collab_index.npz") as z:
        store.save_npz("models/v1/collab_index.npz", movie_ids=z["movie_ids"])
    counts = np.bincount(synth["movies"], minlength=int(film_ids.max()) + 1)[film_ids]
    pop = np.log1p(counts.astype(np.float32))
    popularity = (pop - pop.mean()) / pop.std()
    # The sample users' profiles, then drop the big arrays.
    users = rng.choice(np.unique(synth["users"]), size=args.serve_users, replace=False)
    mask = np.isin(synth["users"], users)
    su, sm, sv, st = synth["users"][mask], synth["movies"][mask], synth["halves"][mask] / 2, synth["stamps"][mask]
    profiles = []
    for user in users:
        sel = su == user
        profiles.append(
            engine.UserProfile(
                sm[sel].astype(np.int64), sv[sel].astype(np.float32), st[sel].astype(np.float64), np.zeros(0, np.int64)
            )
        )
    del synth, mask, matrix, su, sm, sv, st
    import gc

    gc.collect()
    baseline = mem_mb()

    store._popularity = lambda movie_ids: popularity  # the DB holds no films here
    version = SimpleNamespace(pk=1, embeddings_path=embeddings_path, collab_path=collab_path, metrics={})
    t0 = time.perf_counter()
    bundle = store.load_bundle(version)  # type: ignore[arg-type]
    load_seconds = time.perf_counter() - t0
    loaded = mem_mb()

    def miss(p: engine.UserProfile) -> None:
        scores, rated_rows, weights = engine.score_user(bundle, p)
        top, _ = top_k(scores, engine.CANDIDATES, rated_rows)
        engine._explain_pairs(bundle, top, rated_rows, weights)

    for p in profiles[:10]:
        miss(p)
    wall, cpu = [], []
    for p in profiles:
        w, c = time.perf_counter(), time.thread_time()
        miss(p)
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    n_rated = np.array([len(p.movie_ids) for p in profiles])
    return {
        "films": len(bundle.movie_ids),
        "dim": int(bundle.matrix.shape[1]),
        "collab": bundle.collab.kind,
        "load_seconds": round(load_seconds, 1),
        "baseline_rss_mb": baseline["rss_mb"],
        "serving_rss_mb": loaded["rss_mb"],
        "serving_peak_mb": loaded["peak_mb"],
        "users_timed": len(profiles),
        "ratings_per_user_median": int(np.median(n_rated)),
        "miss_wall_ms_p50": round(float(np.percentile(wall, 50)), 1),
        "miss_wall_ms_p99": round(float(np.percentile(wall, 99)), 1),
        "miss_cpu_ms_p50": round(float(np.percentile(cpu, 50)), 1),
        "miss_cpu_ms_p99": round(float(np.percentile(cpu, 99)), 1),
    }


def step_embed(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import numpy as np

    django_env(work, database=False)
    from recommendations.encoders import get_encoder
    from recommendations.ml.text import FilmDoc, film_text

    rng = np.random.default_rng(3)
    vocab = [w for w in (ROOT / "benchmarks" / "synth_ml32m.py").read_text().split() if w.isalpha()][:400]
    texts = [
        film_text(
            FilmDoc(
                title=f"Film {i}",
                year=1990 + i % 30,
                genres=["Drama", "Crime"],
                directors=["Some Director"],
                cast=["Actor One", "Actor Two", "Actor Three"],
                tags=["heist", "los angeles"],
                overview=" ".join(rng.choice(vocab, size=60)),
            )
        )
        for i in range(args.embed_films)
    ]
    t0 = time.perf_counter()
    encoder = get_encoder("")
    load = time.perf_counter() - t0
    encoder.embed(texts[:32], batch_size=32)  # warm-up
    t1 = time.perf_counter()
    encoder.embed(texts, batch_size=64)
    seconds = time.perf_counter() - t1
    rate = len(texts) / seconds
    return {
        "films_timed": len(texts),
        "films_per_second": round(rate, 1),
        "encoder_load_seconds": round(load, 1),
        "extrapolated_minutes_87k": round(87_000 / rate / 60, 1),
        **mem_mb(),
    }


def step_ann(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Exact top-20 per query as the catalogue grows; with faiss-cpu installed, HNSW alongside it.

    Vectors are clustered (400 centres + noise, unit rows), closer to real film embeddings than
    i.i.d. noise, on which every ANN index does badly.
    """
    import numpy as np

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((400, 384), dtype=np.float32)
    exact: dict[str, float] = {}
    hnsw: dict[str, dict[str, float]] = {}
    try:
        import faiss  # optional: pip install faiss-cpu

        faiss.omp_set_num_threads(1)
    except ImportError:
        faiss = None
    for n in (10_000, 87_000, 250_000, 1_000_000):
        matrix = centres[rng.integers(0, 400, n)] + 0.6 * rng.standard_normal((n, 384), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        queries = matrix[rng.integers(0, n, 50)] + 0.3 * rng.standard_normal((50, 384), dtype=np.float32)
        times, truth = [], []
        for q in queries:
            t = time.thread_time()
            scores = matrix @ q
            truth.append(set(np.argpartition(-scores, 20)[:20].tolist()))
            times.append((time.thread_time() - t) * 1000)
        exact[str(n)] = round(float(np.median(times)), 2)
        if faiss is not None and n <= args.ann_max:
            index = faiss.IndexHNSWFlat(384, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            t = time.perf_counter()
            index.add(matrix)
            build = time.perf_counter() - t
            index.hnsw.efSearch = 256
            times, hits = [], 0
            for q, want in zip(queries, truth, strict=True):
                t = time.thread_time()
                _, found = index.search(q[None, :], 20)
                times.append((time.thread_time() - t) * 1000)
                hits += len(want & set(found[0].tolist()))
            hnsw[str(n)] = {
                "ms_per_query": round(float(np.median(times)), 3),
                "recall_at_20": round(hits / (20 * len(queries)), 3),
                "build_seconds": round(build, 1),
            }
        del matrix
    return {"exact_topk_ms_per_query": exact, "hnsw": hnsw or "faiss-cpu not installed"}


CHILD = {"import": step_import, "train": step_train, "serve": step_serve, "embed": step_embed, "ann": step_ann}


def run_child(step: str, args: argparse.Namespace, work: Path, extra: list[str] | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    threads = "2" if step in ("train", "embed") else "1"  # training uses both cores; a web worker one
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = threads
    cmd = [sys.executable, __file__, "--child", step, "--work", str(work), "--data", str(args.data)]
    cmd += ["--serve-users", str(args.serve_users)]
    cmd += ["--embed-films", str(args.embed_films), "--ann-max", str(args.ann_max), *(extra or [])]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["step_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "var" / "synth")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--import-sizes", default="1e6,4e6", help='ratings per import run (the head of ratings.csv), or "full"')
    parser.add_argument("--legacy-ref", help="git ref of a previous importer to measure alongside (e.g. 70518cf, before #8)")
    parser.add_argument("--legacy-max", type=float, default=1e6, help="largest size to run the legacy importer at")
    parser.add_argument("--reimport", action="store_true", help="also time an unchanged re-import")
    parser.add_argument(
        "--parse-only-sizes", default="", help='sizes (or "full") to parse and sort without writing: memory at full scale'
    )
    parser.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slice", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--legacy", help=argparse.SUPPRESS)
    parser.add_argument("--serve-users", type=int, default=300)
    parser.add_argument("--embed-films", type=int, default=512)
    parser.add_argument("--ann-max", type=int, default=87_000, help="largest catalogue to build an HNSW index for")
    parser.add_argument("--work", type=Path, help="where artifacts go (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # train writes collab.npz where serve reads it; the others get a folder of their own.
        work = args.work if args.child in ("train", "serve", "import") else args.work / args.child
        work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(CHILD[args.child](args, work)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="movierec-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    steps = [s for s in args.steps.split(",") if s]
    if "serve" in steps and "train" not in steps and not (work / "collab.npz").exists():
        sys.exit("serve needs train's artifact: add train to --steps or pass --work of an earlier run")
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}}
    for step in STEPS:
        if step in steps:
            print(f"{step} …", flush=True)
            results[step] = run_imports(args, work) if step == "import" else run_child(step, args, work)
            print(json.dumps(results[step], indent=2), flush=True)
    results["machine"]["loadavg_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"artifacts in {work}")


if __name__ == "__main__":
    main()
