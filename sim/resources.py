"""Up-front estimates of the memory and disk a command needs, refused past what the machine has.

A model too large for the machine should be refused in a second with its estimate, not end
in a MemoryError traceback after minutes. The figures are what a run needs beyond the process
that checks it (peak resident set less the resident set before the model is built), measured
with ``benchmarks/memory_estimate.py`` on the baseline at 1M listeners, 120 months, mean
degree 0 (fully mixed), 12 and 40: the peak is the larger of the months' (about 200 bytes a
listener: its arrays, 8 genres of taste, the per-step temporaries) and the friendship
network's build (about 80 bytes a listener plus 34 per listener per unit of
``network.mean_degree``: COO pairs in int64 before the CSR matrix). The months' peak also holds
about 51 MB that does not grow with the listeners: numba's runtime and the compiled kernels,
loaded on the first step, after the build's temporaries are freed. How much of it is measured
depends on the install: the page cache lets the first step map more or fewer of the libraries'
file pages (a 2,000-listener run needed 42-64 MB, 34 MB of the 64 file pages); 51 MB sits
between. Whole runs are within 15% of the measured need from 1M to 10M listeners on the
baseline (the benchmark prints both); below that the fixed part's spread dominates, so
``tests/test_memory.py`` checks the two parts apart: what grows with the listeners in a process
that holds the kernels already (``loaded``), within 15% at 300k with and without friends, and the
fixed part within its measured spread.

Other branches call these: ``model_bytes(scenario)`` for one model, ``run_bytes`` for a
command that runs replicates in worker processes, ``rows_bytes`` for designs and stored
tables, and ``check_fits(bytes, what, source)`` to refuse what does not fit.
"""

from __future__ import annotations

import os

from sim.clock import Clock
from sim.scenario import Scenario, ScenarioError

BYTES_PER_LISTENER = 200      # measured 199 (fully mixed, 1M): state, traits and the per-step temporaries
BUILD_BYTES_PER_LISTENER = 80  # the arrays already drawn when the network is built
BYTES_PER_GENRE = 4           # taste is (listeners x genres) float32
BYTES_PER_TIE = 34            # measured 34 per listener per unit of mean degree, at the build peak (degree 12 and 40, 1M)
KERNELS_BYTES = 51_000_000    # numba's runtime and the kernels, loaded on the first step: 42-64 MB (see above)
BYTES_PER_ROW = 600           # a timeseries row in memory: 55 numeric columns, a date and a service name
BYTES_PER_COHORT_ROW = 80     # a cohort row: 7 columns; (steps x steps) rows per replicate, both tiers
PROCESS_BYTES = 100_000_000   # a forked worker's own pages (imports are shared copy-on-write)
DEFAULT_GENRES = 8


def model_bytes(scenario: Scenario, loaded: bool = False) -> int:
    """Peak bytes of one ``MarketModel`` of ``scenario``: listeners, network, cohort tables, records.

    ``loaded``: numba's runtime and the kernels are already in the process (it has run a model), so
    the run adds only what grows with the scenario: the larger of the build's peak and the months'.
    """
    n = scenario.market.agents
    genres = scenario.mechanisms.personalization.genres
    ties = 0 if scenario.network.kind == "fully_mixed" else scenario.network.mean_degree
    steps = Clock.of(scenario).n_steps
    services = 1 + len(scenario.services.competitors)
    build = n * (BUILD_BYTES_PER_LISTENER + BYTES_PER_TIE * ties)
    months = (0 if loaded else KERNELS_BYTES) + n * BYTES_PER_LISTENER  # the kernels load after the build's temporaries are freed
    taste = n * BYTES_PER_GENRE * (genres - DEFAULT_GENRES)
    cohorts = 2 * steps * steps * 8  # premium and free retention counts, steps x steps float64
    records = steps * services * BYTES_PER_ROW
    return int(max(build, months) + taste + cohorts + records)


def workers_bytes(scenario: Scenario, workers: int | None, runs: int, loaded: bool = False) -> int:
    """Peak bytes of the models alive at once when ``runs`` runs of ``scenario`` share ``workers`` processes.

    ``min(workers, runs)`` models live at once, each in a process of its own; ``loaded`` as in :func:`model_bytes`.
    """
    live = max(1, min(workers or os.cpu_count() or 1, runs))
    return int(live * (model_bytes(scenario, loaded) + (PROCESS_BYTES if live > 1 else 0)))


def run_bytes(scenario: Scenario, workers: int | None, replicates: int | None = None, loaded: bool = False) -> int:
    """Peak bytes of running ``replicates`` (default: the scenario's) on ``workers`` processes:
    the live models, and every replicate's timeseries and cohort rows, which the parent keeps;
    ``loaded`` as in :func:`model_bytes`."""
    reps = scenario.replicates if replicates is None else replicates
    steps = Clock.of(scenario).n_steps
    services = 1 + len(scenario.services.competitors)
    return workers_bytes(scenario, workers, reps, loaded) + reps * _rows_bytes(steps, services)


def output_bytes(scenario: Scenario, replicates: int | None = None) -> int:
    """Upper bound of a run's result folder on disk: uncompressed rows plus 5 MB of figures and report."""
    reps = scenario.replicates if replicates is None else replicates
    steps = Clock.of(scenario).n_steps
    services = 1 + len(scenario.services.competitors)
    return int(reps * _rows_bytes(steps, services) + 5_000_000)


def _rows_bytes(steps: int, services: int) -> int:
    """One replicate's timeseries and cohort rows."""
    return steps * services * BYTES_PER_ROW + steps * steps * BYTES_PER_COHORT_ROW


def rows_bytes(n_rows: float, row_bytes: float) -> int:
    """Bytes of a table of ``n_rows`` rows of ``row_bytes`` each (a design, a runs table)."""
    return int(n_rows * row_bytes)


def available_memory() -> int:
    """Bytes the machine can give now without swapping (``psutil.virtual_memory().available``)."""
    import psutil  # a dependency of dask.distributed

    return int(psutil.virtual_memory().available)


def human(n: float) -> str:
    """``1.5 GB``-style size (decimal units)."""
    units = ("kB", "MB", "GB", "TB", "PB")
    if abs(n) < 1000:
        return f"{n:.0f} bytes"
    k = 0
    while abs(n) >= 1000 and k < len(units):
        n, k = n / 1000, k + 1
    return f"{n:.1f} {units[k - 1]}"


def check_fits(need: float, what: str, source: str, advice: str = "use fewer listeners, friends, replicates or workers",
               available: int | None = None) -> None:
    """Raise ScenarioError (exit 2) if ``need`` bytes exceed the memory available now.

    ``what`` says what was estimated (``"the design (2,000 points x 2 replicates = 4,000 runs)"``),
    ``source`` names the file or flag the size came from, ``advice`` what would make it fit.
    """
    have = available_memory() if available is None else available
    if need > have:
        raise ScenarioError(f"{source}: {what} needs about {human(need)} of memory; this machine has "
                            f"{human(have)} available: {advice}")


def check_run_fits(scenario: Scenario, workers: int | None, replicates: int | None = None) -> None:
    """Refuse (ScenarioError) running ``replicates`` of ``scenario`` on ``workers`` if it cannot fit in memory,
    saying how many listeners would."""
    reps = scenario.replicates if replicates is None else replicates
    live = max(1, min(workers or os.cpu_count() or 1, reps))
    what = (f"running {reps} replicate{'s' * (reps > 1)} of {scenario.market.agents:,} listeners with "
            f"{scenario.network.mean_degree} friends each on {live} worker{'s' * (live > 1)}")
    have = available_memory()
    need = run_bytes(scenario, workers, reps)
    if need <= have:
        return
    fit = _listeners_that_fit(scenario, workers, reps, have)
    advice = (f"at most {fit:,} listeners (market.agents) would fit as it is; or use fewer friends, replicates or workers"
              if fit >= 100 else "use fewer replicates or workers")
    check_fits(need, what, f"scenario '{scenario.name}' (market.agents, network.mean_degree)", advice, have)


def _listeners_that_fit(scenario: Scenario, workers: int | None, replicates: int, have: int) -> int:
    """The most listeners (``market.agents``) whose run fits in ``have`` bytes, other settings kept (0 if none)."""
    def at(n: int) -> int:
        return run_bytes(scenario.model_copy(update={"market": scenario.market.model_copy(update={"agents": n})}), workers, replicates)

    per_listener = (at(1_000_000) - at(0)) / 1_000_000  # the estimate is linear in the listeners
    return max(int((have - at(0)) / per_listener), 0)
