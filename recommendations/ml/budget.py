"""Time and memory accounting for the offline pipeline (``pipeline.run_pipeline``).

``Budget`` keeps one wall-clock deadline and what each stage spent; ``CostModel`` and
``plan_hybrid`` decide, before a stage starts, whether and at what size it fits: the EASE
inverse is timed on a small matrix here and now (``calibrate``) and scaled by n³, since these
machines' speed varies with load.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .collab import EASE_MAX_ITEMS, default_grid, temporal_grid
from .linalg import spd_inverse
from .lowrank import IALS_ITERS, lowpass_grid, lowrank_grid

__all__ = [
    "Budget",
    "CostModel",
    "calibrate",
    "estimate_hybrid_seconds",
    "peak_rss_mb",
    "plan_hybrid",
    "process_age_seconds",
]


def peak_rss_mb(children: bool = False) -> float:
    """The process's resident-set high-water mark so far, or with ``children`` the largest of its
    finished child processes' (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF).ru_maxrss / 1024.0


def process_age_seconds() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 where that cannot be read)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


class Budget:
    """Wall-clock accounting against one deadline; each stage's seconds are recorded, and the
    process's peak RSS when the stage ends (a high-water mark: it shows which stage raised it)."""

    def __init__(self, total_seconds: float, clock: Callable[[], float] = time.perf_counter, *, spent_before: float = 0.0) -> None:
        """``spent_before``: seconds already gone when the budget is made (e.g. process start-up)."""
        self.total = float(total_seconds)
        self.clock = clock
        self.started = clock() - max(spent_before, 0.0)
        self.stages: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.plan: dict[str, Any] = {}

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return self.total - self.elapsed()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = self.clock()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + self.clock() - t0
            # Re-inserted so the report lists stages in the order they last ended: a stage run
            # twice ("plan") would otherwise show its late, higher mark at its first position.
            self.peak_mb.pop(name, None)
            self.peak_mb[name] = peak_rss_mb()

    def report(self) -> dict[str, Any]:
        return {
            "budget_seconds": round(self.total, 1),
            "elapsed_seconds": round(self.elapsed(), 1),
            "stages": {k: round(v, 1) for k, v in self.stages.items()},
            "peak_rss_mb": {k: round(v) for k, v in self.peak_mb.items()},
            "peak_rss_children_mb": round(peak_rss_mb(children=True)),
            "plan": self.plan,
        }


@dataclass
class CostModel:
    """Planning constants. Encoder numbers are from shared/docs/ml-stack.md (2 cores), on the
    slow side: they only decide whether a stage is attempted; measured speeds take over once known."""

    encoder_load_seconds: float = 20.0  # import TF, load, first traced call
    embed_texts_per_second: float = 30.0  # TMDB overviews (~80 tokens), loaded machine
    finetune_trace_seconds: float = 60.0  # tokenising the pairs and tracing the training graph
    finetune_step_seconds: float = 2.6  # floor: batch 32 of ~64-token texts, idle machine
    # A training step (batch 32: 64 texts forward and backward, Adam update) costs about this
    # many times the forward pass of 64 texts, as timed by the base embedding (measured here:
    # 3 to 8 depending on load and text length; 6 errs on the side of the budget).
    finetune_step_forward_ratio: float = 6.0
    min_finetune_steps: int = 10  # on ml-100k, 11 steps already lifted validation content nDCG by 40%
    safety_fraction: float = 0.05  # of the budget, kept for ranking and writing


# Extrapolation from the 1.5k-item timing to the catalogue. Measured on this 2-core machine
# (9.7k items, one cold simulation): 457 s real vs 516 s estimated under heavy load, 269 s
# vs 166 s with an exponent of 2.7 under light load; n^3 errs on the side of the budget.
INVERSE_EXPONENT = 3.0
# Blend-weight search: per cold simulation, every validation user x item x grid triple.
GRID_SECONDS_PER_CELL = 4e-8
GRID_SIZE = 183
# One iALS row solve (64 factors) per user and item per iteration, as lowrank.ials_item_factors
# does them: ~1.3e-4 s measured on ML-100K (2 cores); rounded up.
LOWRANK_SECONDS_PER_ROW = 2e-4
# The low-pass term is dominated by its n x n product with 64 singular vectors: ~1.1 s at 9.7k
# items measured (2 cores, sparse SVD included), i.e. ~2e-10 s per item-pair-vector; doubled.
LOWPASS_SECONDS_PER_CELL = 4e-10


def _time_inverse(m: int, seed: int = 0) -> float:
    """Seconds for one m x m SPD inverse on this machine, now (best of 3: on a shared machine
    a single small timing is mostly noise from other processes)."""
    rng = np.random.default_rng(seed)
    a = rng.random((m, 64))
    g = a @ a.T + m * np.eye(m)
    times = []
    for _ in range(3):
        work = g.copy()
        t0 = time.perf_counter()
        spd_inverse(work)  # what EASE uses
        times.append(time.perf_counter() - t0)
    return float(min(times))


def calibrate(n_items: int, seed: int = 0) -> tuple[int, float]:
    """(m, seconds of one m x m inverse) for ``estimate_hybrid_seconds``."""
    m = max(2, min(n_items, 1500))
    return m, _time_inverse(m, seed)


def estimate_hybrid_seconds(
    n_items: int,
    n_users: int,
    cold_repeats: int,
    *,
    calibration: tuple[int, float],
    overhead: float = 1.25,
    temporal: bool = False,
) -> float:
    """HybridModel.fit cost: one EASE inverse per grid point, one for the winner (whose weights
    serve the content-prior stage and the low-rank selection), one per cold simulation and one
    for the refit (times ``overhead`` for Grams and prior products), plus the blend-weight
    search. ``temporal``: the ratings have times, so the temporal candidates and, in the worst
    case, the (λ, c) re-search of ``collab.temporal_grid`` are tried too. The low-rank term
    costs an iALS fit per candidate, then, in the worst case (it wins), one per cold simulation
    and for the refit; so does the low-pass term with a sparse SVD in place of iALS."""
    m, t_m = calibration
    t_inv = t_m * (n_items / m) ** INVERSE_EXPONENT
    n_inverses = len(default_grid(n_items)) + cold_repeats + 2
    n_ials = len(lowrank_grid(n_items)) + cold_repeats + 1
    t_lowrank = n_ials * LOWRANK_SECONDS_PER_ROW * IALS_ITERS * (n_users + n_items)
    n_lowpass = len(lowpass_grid(n_items)) + cold_repeats + 1
    t_lowrank += n_lowpass * LOWPASS_SECONDS_PER_CELL * max(lowpass_grid(n_items)) * n_items**2
    if temporal:
        candidates, regrid = temporal_grid(n_items)
        n_inverses += len(candidates) + len(regrid)
    grid = GRID_SECONDS_PER_CELL * cold_repeats * n_users * n_items * GRID_SIZE
    return overhead * n_inverses * t_inv + t_lowrank + grid + 0.5


def plan_hybrid(
    n_items: int,
    n_users: int,
    seconds: float,
    *,
    calibration: tuple[int, float] | None = None,
    cold_repeats: int = 3,
    overhead: float = 1.25,
    temporal: bool = False,
) -> dict[str, Any]:
    """Fit-size plan for a budget: fewer cold simulations first, then fewer items.

    Returns ``{"cold_repeats", "max_items", "estimate_seconds"}``; ``max_items`` < n_items
    means the collaborative catalogue is cut to the most-interacted films (and never more
    than ``EASE_MAX_ITEMS``, where dense EASE stops being sensible).
    """
    calibration = calibration or calibrate(n_items)

    def est(n: int, r: int) -> float:
        return estimate_hybrid_seconds(n, n_users, r, calibration=calibration, overhead=overhead, temporal=temporal)

    n = min(n_items, EASE_MAX_ITEMS)
    for r in sorted({cold_repeats, 1}, reverse=True):
        if est(n, r) <= seconds:
            return {"cold_repeats": r, "max_items": n, "estimate_seconds": round(est(n, r), 1)}
    # Largest n with est(n, 1) <= seconds, by bisection (est is monotone within each side of
    # default_grid's 5,000-item switch); never below 200 films.
    lo, hi = 200, n
    while hi - lo > 50:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if est(mid, 1) <= seconds else (lo, mid)
    return {"cold_repeats": 1, "max_items": lo, "estimate_seconds": round(est(lo, 1), 1)}
