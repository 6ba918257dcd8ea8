"""Design points of a sweep: the parameter values each point sets in the scenario.

Four designs, one function each, all returning the raw sample ``x`` in the units of
SALib's ``problem`` (what SALib's analysers expect back):

- grid: every combination of the levels (a ``low``/``high`` range gives
  ``grid_levels`` evenly spaced values, ends included; geometric for loguniform);
- lhs: ``n`` points by Latin hypercube (McKay et al. 1979), ``SALib.sample.latin``;
- sobol: Saltelli's extension of the Sobol' sequence, ``SALib.sample.sobol``
  (``n*(D+2)`` points, or ``n*(2D+2)`` with second-order indices);
- morris: ``n`` elementary-effect trajectories (Morris 1991), ``SALib.sample.morris``,
  ``n*(D+1)`` points.

A ``levels`` parameter is a dimension over [0, k) in the problem and takes
``levels[floor(x)]``, so categorical values (``true``/``false``, ``opt_in``/``opt_out``)
sit in the same designs. Integer parameters (``trial_months``) are rounded to the
nearest integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from SALib.sample import latin, morris, sobol

from sim.resources import check_fits, rows_bytes
from sim.sweep.spec import ParameterSpec, Sweep, SweepSpec

# memory of the design, for the up-front estimate: SALib's samples and the values table hold
# a few float64 copies per point and parameter (or a name); each run has a task and a row of runs.parquet
POINT_BYTES_PER_PARAMETER = 96
RUN_BYTES = 1_000


@dataclass(frozen=True)
class Design:
    """The design points of a sweep.

    x: ndarray of shape (n_points, n_parameters), dtype float64, in problem units.
    values: DataFrame of shape (n_points, n_parameters), index ``point``, one column per
        parameter key path, holding the value set in the scenario (float, int, bool or str).
    """

    x: np.ndarray
    values: pd.DataFrame

    def point_overrides(self, point: int) -> dict[str, Any]:
        """Key path -> plain Python value for one design point (what ``apply_overrides`` takes)."""
        return {k: v.item() if isinstance(v, np.generic) else v for k, v in self.values.iloc[point].items()}


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """SALib's problem description of the swept parameters, in the sweep file's order."""
    bounds, dists = [], []
    for param in spec.parameters.values():
        if param.levels is not None:
            bounds.append([0.0, float(len(param.levels))])
            dists.append("unif")
        else:
            bounds.append([param.low, param.high])
            dists.append("logunif" if param.distribution == "loguniform" else "unif")
    return {"num_vars": len(spec.parameters), "names": list(spec.parameters), "bounds": bounds, "dists": dists}


def expected_points(spec: SweepSpec) -> int:
    """Number of design points the spec asks for (before replicates)."""
    d, n = spec.design, spec.design.n
    D = len(spec.parameters)
    if d.kind == "grid":
        return int(np.prod([len(p.levels) if p.levels is not None else d.grid_levels for p in spec.parameters.values()]))
    if d.kind == "sobol":
        return n * (2 * D + 2 if d.second_order else D + 2)
    if d.kind == "morris":
        return n * (D + 1)
    return n


def sample(spec: SweepSpec) -> np.ndarray:
    """The raw design ``x``: ndarray (n_points, n_parameters) in problem units, seeded by ``spec.seed``."""
    problem = salib_problem(spec)
    d = spec.design
    if d.kind == "grid":
        return _grid(spec)
    if d.kind == "lhs":
        return latin.sample(problem, d.n, seed=spec.seed)
    if d.kind == "sobol":
        return sobol.sample(problem, d.n, calc_second_order=d.second_order, seed=spec.seed)
    return morris.sample(problem, d.n, num_levels=d.num_levels, seed=spec.seed)


def _grid(spec: SweepSpec) -> np.ndarray:
    """Full factorial in problem units; the first parameter varies slowest."""
    axes = [_grid_axis(p, spec.design.grid_levels) for p in spec.parameters.values()]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _grid_axis(param: ParameterSpec, grid_levels: int | None) -> np.ndarray:
    if param.levels is not None:
        return np.arange(len(param.levels)) + 0.5  # the middle of each level's [i, i+1) cell
    space = np.geomspace if param.distribution == "loguniform" else np.linspace
    return space(param.low, param.high, grid_levels)


def to_values(spec: SweepSpec, x: np.ndarray, integer_parameters: frozenset[str]) -> pd.DataFrame:
    """Scenario values of a raw design: levels picked by index, integer parameters rounded."""
    columns: dict[str, Any] = {}
    for j, (path, param) in enumerate(spec.parameters.items()):
        if param.levels is not None:
            index = np.clip(np.floor(x[:, j]).astype(np.int64), 0, len(param.levels) - 1)
            columns[path] = pd.Series([param.levels[i] for i in index])
        elif path in integer_parameters:
            columns[path] = np.rint(x[:, j]).astype(np.int64)
        else:
            columns[path] = x[:, j].astype(np.float64)
    values = pd.DataFrame(columns)
    values.index.name = "point"
    return values


def build(sweep: Sweep) -> Design:
    """The design of a validated sweep; ScenarioError if it cannot fit in memory (estimated first)."""
    points, d = expected_points(sweep.spec), len(sweep.spec.parameters)
    runs = points * sweep.spec.replicates
    need = rows_bytes(points, POINT_BYTES_PER_PARAMETER * d) + rows_bytes(runs, RUN_BYTES + 8 * len(sweep.spec.kpis))
    check_fits(need, f"the design ({points:,} points x {sweep.spec.replicates} replicates = {runs:,} runs)",
               f"{sweep.source}: design", "use a smaller design (n, levels) or fewer replicates")
    x = sample(sweep.spec)
    return Design(x=x, values=to_values(sweep.spec, x, sweep.integer_parameters))
