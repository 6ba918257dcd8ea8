"""``freemium-sim optimize``: search the levers for good policies (optuna), resumably.

Every policy (one setting of the levers) runs the file's R replicates on the same
seeds, ``SeedSequence(seed).spawn(R)`` (common random numbers): two policies are
compared on the same random draws, so the search follows the levers' effects and not
Monte-Carlo noise; each objective is the mean over the replicates, reported with its
95% t-interval. One objective: Optuna's multivariate TPE (Bergstra et al. 2011);
several: NSGA-II (Deb et al. 2002), whose population keeps the trade-off between them.
Constraints (a KPI's mean within bounds) go to the sampler as ``constraints_func``:
an infeasible policy is never on the Pareto front.

The trials live in an Optuna RDB storage, ``OUT/study.db`` (SQLite): a killed search
rerun with the same command resumes. Finished policies are not run again; one killed
mid-run is run again from the start. The sampler is reseeded with the file's seed plus
the number of finished trials, so a resumed search does not replay its first proposals.
Replicates run on the executor every command uses (:mod:`sim.executors`): results do
not depend on the number of workers.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc
from optuna.trial import TrialState

from sim.analysis.optimize_spec import Optimization, through_list
from sim.analysis.whatif import with_event
from sim.atomic import write_atomic
from sim.executors import Executor, using
from sim.metrics import kpi_bounds
from sim.report.display import RowScale
from sim.runner import ci95, months_per_step, replicate_seeds, simulate
from sim.scenario import Scenario, ScenarioError, apply_overrides
from sim.sweep.spec import KpiSpec

#: Always kept per policy: the revenue split drawn in the Pareto figure (EUR over the horizon).
REVENUE = (KpiSpec(column="revenue_subscription_eur", agg="cumulative", name="subscription_revenue_eur"),
           KpiSpec(column="revenue_ads_eur", agg="cumulative", name="ad_revenue_eur"))
SPEC_FILE = "optimize-spec.json"
STUDY_FILE = "study.db"  # the Optuna storage (SQLite)

#: A policy's evaluation: lever values (None: the base scenario) -> one row per replicate, one column per KPI key.
Evaluate = Callable[[dict[str, float] | None], pd.DataFrame]


@dataclass(frozen=True)
class PolicyRun:
    """One replicate of one policy: the scenario, the replicate's seed, the KPIs to keep."""

    replicate: int
    scenario: Scenario
    seed: np.random.SeedSequence
    kpis: tuple[KpiSpec, ...]


def policy_scenario(opt: Optimization, params: dict[str, float] | None) -> Scenario:
    """The base scenario with the lever values: undated levers from the start, dated ones as
    timeline events at their month (one event per month, appended: it wins in its month)."""
    if not params:
        return opt.base
    undated = {p: v for p, v in params.items() if opt.spec.levers[p].start is None}
    scenario = apply_overrides(opt.base, undated, source=f"{opt.source}: levers") if undated else opt.base
    months = sorted({lever.start for p, lever in opt.spec.levers.items() if lever.start is not None and p in params})
    for month in months:
        dated = {p: params[p] for p, lever in opt.spec.levers.items() if lever.start == month and p in params}
        scenario = with_event(scenario, dated, month, f"{opt.source}: levers", note=f"levers of {opt.spec.name}")
    return scenario


def kept_kpis(opt: Optimization) -> tuple[KpiSpec, ...]:
    """Every KPI a policy's runs report: objectives, constraints and the revenue split."""
    out: dict[str, KpiSpec] = {}
    for k in (*opt.spec.objectives, *opt.spec.constraints, *REVENUE):
        out.setdefault(k.key, KpiSpec(column=k.column, agg=k.agg, window=k.window, name=k.key))
    return tuple(out.values())


def run_policy_replicate(run: PolicyRun) -> dict[str, float]:
    """Simulate one replicate of a policy and reduce it to its KPIs (pure, picklable: any executor runs it)."""
    ts = simulate(run.scenario, run.seed).timeseries
    focal = ts[ts["focal"]].sort_values("step")
    return {"replicate": run.replicate, **{k.key: k.evaluate(focal, months_per_step(run.scenario)) for k in run.kpis}}


@contextmanager
def model_evaluator(opt: Optimization, workers: int | None = None, executor: str | Executor = "local",
                    scheduler: str | None = None, on_notice: Callable[[str], None] | None = None) -> Iterator[Evaluate]:
    """The evaluation of policies by simulation on one executor, kept for the whole search (see
    :func:`sim.executors.using`; one worker runs in this process); yields :data:`Evaluate`.
    A replicate that raises stops the search (a model error)."""
    seeds = replicate_seeds(opt.spec.seed, opt.spec.replicates)
    kpis = kept_kpis(opt)
    with using(executor, scheduler=scheduler, n_workers=workers, max_tasks=opt.spec.replicates,
               on_notice=on_notice) as ex:
        def evaluate(params: dict[str, float] | None) -> pd.DataFrame:
            scenario = policy_scenario(opt, params)
            rows = []
            for _run, row, error in ex.map_unordered(run_policy_replicate,
                                                      [PolicyRun(r, scenario, s, kpis) for r, s in enumerate(seeds)]):
                if error is not None:
                    raise error
                rows.append(row)
            return pd.DataFrame(rows).sort_values("replicate").set_index("replicate")

        yield evaluate


def prepare_folder(opt: Optimization, out: Path, notice: Callable[[str], None] = print) -> None:
    """Create ``out`` for this search, or check that it holds this same search (to resume; ``notice``
    says so where its ``study.db`` is gone, and a new search starts).

    Raises ScenarioError when ``out`` holds files but no search, or another search.
    """
    spec_path = out / SPEC_FILE
    resolved = opt.resolved()
    if spec_path.exists():
        old = json.loads(spec_path.read_text())
        if old != json.loads(json.dumps(resolved)):
            raise ScenarioError(f"--out: {out} holds a different search (its {SPEC_FILE} differs); choose another "
                                "--out, or delete it to start over")
        if not (out / STUDY_FILE).exists():
            notice(f"{out / STUDY_FILE} is missing: a new search starts (the trials of the earlier one are not in it)")
        return
    if out.exists() and any(out.iterdir()):
        raise ScenarioError(f"--out: {out} exists and is not an optimize folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(spec_path, json.dumps(resolved, indent=2).encode())


def _sampler(opt: Optimization, done: int) -> optuna.samplers.BaseSampler:
    """NSGA-II for several objectives, multivariate TPE for one; both read the trials' constraints."""
    seed = opt.spec.seed + done  # a resumed search does not replay its first proposals
    if len(opt.spec.objectives) > 1:
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, opt.spec.trials // 4)))
    return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                      n_startup_trials=min(10, max(1, opt.spec.trials // 3)))


def summarise(opt: Optimization, per_replicate: pd.DataFrame) -> dict[str, Any]:
    """Mean and 95% interval over replicates of every kept KPI, and each constraint's violation."""
    column = {k.key: k.column for k in kept_kpis(opt)}
    kpis = {k: ci95(per_replicate[k].to_numpy(), kpi_bounds(column.get(k, k))) for k in per_replicate.columns}
    violations = [c.violation(kpis[c.key]["mean"] if kpis[c.key]["mean"] is not None else math.nan)
                  for c in opt.spec.constraints]
    return {"kpis": kpis, "violations": [v if math.isfinite(v) else 1e300 for v in violations]}


def open_study(opt: Optimization, out: Path, notice: Callable[[str], None]) -> tuple[optuna.storages.RDBStorage, optuna.Study]:
    """The storage and study of ``out/study.db``, a new one if there is none or it is empty (said through
    ``notice``; a missing one of an earlier search is said by :func:`prepare_folder`). A file that is not a readable Optuna study (truncated,
    garbage, another program's database, another Optuna's schema) is refused with ScenarioError,
    never replaced: the message says to move it aside."""
    db = out / STUDY_FILE
    if db.exists() and db.stat().st_size == 0:
        notice(f"{db} is empty: a new search starts in it")
    elif db.exists():
        _check_study_file(db)
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{db.resolve()}")
        directions = [o.direction for o in opt.spec.objectives]
        return storage, optuna.create_study(study_name=opt.spec.name, storage=storage, directions=directions, load_if_exists=True)
    except (sqlalchemy.exc.SQLAlchemyError, RuntimeError, ValueError) as exc:  # RuntimeError: another Optuna's schema
        raise ScenarioError(f"{db}: not a readable Optuna study ({str(exc).splitlines()[0][:200]}); move it aside "
                            "to start a new search, or restore it to resume") from None


def _check_study_file(db: Path) -> None:
    """ScenarioError unless ``db`` is an intact SQLite database holding Optuna's tables (or none yet)."""
    try:
        with closing(sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)) as con:
            if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise ScenarioError(f"{db}: not a readable Optuna study ({exc}); move it aside to start a new search, "
                            "or restore it to resume") from None
    if tables and not {"studies", "trials", "version_info"} <= tables:
        raise ScenarioError(f"{db}: a SQLite database but not an Optuna study (its tables: {', '.join(sorted(tables))[:200]}); "
                            "move it aside to start a new search")


def search(opt: Optimization, out: Path, evaluate: Evaluate, on_trial: Callable[[int], None] | None = None,
           notice: Callable[[str], None] = print) -> optuna.Study:
    """Run (or resume) the search in ``out/study.db`` until ``trials`` policies have finished.

    ``on_trial(n_finished)`` is called after each trial; ``notice`` says where a new search starts
    in place of a missing or empty ``study.db`` (:func:`open_study`) and how many policies had an undefined objective. The baseline (the base scenario,
    levers untouched) is evaluated once and kept in the study's user attributes.
    """
    # not optuna's warnings: its "Trial N failed" printed, on Ctrl-C or SIGTERM, the traceback of wherever the
    # signal landed; the policies whose objective is NaN are counted below instead
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage, study = open_study(opt, out, notice)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # killed mid-run
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if set(t.params) == set(opt.spec.levers):
            study.enqueue_trial(t.params, skip_if_exists=True)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    study.sampler = _sampler(opt, done)
    if "baseline" not in study.user_attrs:
        study.set_user_attr("baseline", summarise(opt, evaluate(None)))

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        params = {p: (trial.suggest_int(p, math.ceil(lv.low), math.floor(lv.high)) if p in opt.integer_levers
                      else trial.suggest_float(p, lv.low, lv.high)) for p, lv in opt.spec.levers.items()}
        result = summarise(opt, evaluate(params))
        trial.set_user_attr("kpis", result["kpis"])
        trial.set_user_attr("violations", result["violations"])
        for c, v in zip(opt.spec.constraints, result["violations"]):
            trial.set_constraint(c.key, v)  # the samplers keep to feasible policies
        values = tuple(math.nan if result["kpis"][o.key]["mean"] is None else result["kpis"][o.key]["mean"]
                       for o in opt.spec.objectives)
        return values if len(values) > 1 else values[0]

    left = opt.spec.trials - done
    while left > 0:
        study.optimize(objective, n_trials=left, n_jobs=1,
                       callbacks=[lambda s, _t: on_trial(len(s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))))]
                       if on_trial else None)
        left = opt.spec.trials - len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if left and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            break  # trials that fail (NaN objective) are not retried for ever
    undefined = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if "kpis" in t.user_attrs]
    if undefined:
        notice(f"{len(undefined)} policies tried have an undefined (NaN) objective, e.g. a KPI of a tier that "
               "is gone; they are left out of trials.csv and the front")
    return study


def pareto_front(opt: Optimization, trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The feasible finished trials no other feasible one dominates (all objectives at least as good,
    one better), in trial order; for one objective, the best."""
    ok = [t for t in trials if t.state == TrialState.COMPLETE and all(v <= 0 for v in t.user_attrs.get("violations", []))]
    sign = np.array([1.0 if o.direction == "maximize" else -1.0 for o in opt.spec.objectives])
    values = np.array([np.asarray(t.values, float) * sign for t in ok]).reshape(len(ok), len(sign))
    front = []
    for i, t in enumerate(ok):
        dominated = np.any(np.all(values >= values[i], axis=1) & np.any(values > values[i], axis=1))
        if not dominated:
            front.append(t)
    # equal objective values: keep the first such trial only
    seen, out = set(), []
    for t in front:
        if tuple(t.values) not in seen:
            seen.add(tuple(t.values))
            out.append(t)
    return out


# ---------------------------------------------------------------- outputs


def trial_row(opt: Optimization, trial: optuna.trial.FrozenTrial | None, summary: dict[str, Any],
              params: dict[str, Any]) -> dict[str, Any]:
    """One row of pareto.csv / trials.csv: trial, lever values by path, each KPI's mean and interval."""
    row: dict[str, Any] = {"trial": None if trial is None else trial.number, **params}
    for key, v in summary["kpis"].items():
        row[f"{key}_mean"], row[f"{key}_ci95_low"], row[f"{key}_ci95_high"] = v["mean"], v["ci95_low"], v["ci95_high"]
    row["feasible"] = all(v <= 0 for v in summary["violations"])
    return row


def policy_yaml(opt: Optimization, trial: optuna.trial.FrozenTrial, k: int, policies_dir: Path) -> str:
    """A ready scenario file for one Pareto policy: ``extends:`` the base file, undated levers as
    nested keys, dated ones as timeline events (appended to the base's)."""
    import os

    import yaml

    body: dict[str, Any] = {"extends": os.path.relpath(opt.base_path.absolute(), policies_dir.absolute()),
                            "name": f"{opt.spec.name}-policy-{k}",
                            "description": f"Pareto policy {k} of `freemium-sim optimize {opt.source}` (trial {trial.number})",
                            "seed": opt.spec.seed, "replicates": opt.spec.replicates}  # the search's seeds: its numbers
    events: dict[str, dict[str, Any]] = {}
    # the search's overrides go along (a longer horizon the levers' months need), except its
    # cheaper market size and those inside lists, which a nested mapping cannot address
    kept = {p: v for p, v in opt.spec.overrides.items() if p != "market.agents" and not through_list(p)}
    for path, value in [*kept.items(), *trial.params.items()]:
        lever = opt.spec.levers.get(path)
        if lever is not None and lever.start is not None:
            events.setdefault(lever.start, {})[path] = value
            continue
        node = body
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    if events:
        body["timeline"] = [{"at": month, "set": sets, "note": f"policy {k} of {opt.spec.name}"}
                            for month, sets in sorted(events.items())]
    means = ", ".join(f"{o.key} = {trial.user_attrs['kpis'][o.key]['mean']:.6g}" for o in opt.spec.objectives)
    left_out = {p: v for p, v in opt.spec.overrides.items() if p not in kept}
    again = " ".join(f"--set {p}={v}" for p, v in left_out.items())
    note = (f"# Found by freemium-sim optimize {opt.source}: {means}\n"
            f"# (means over {opt.spec.replicates} replicates"
            + (f"; the search also set {json.dumps(left_out)}, not applied here" if left_out else "") + ")\n"
            + (f"# The search's numbers again: freemium-sim run <this file> {again}\n" if left_out else ""))
    return note + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def pareto_png(opt: Optimization, rows: pd.DataFrame, front: pd.DataFrame, baseline: dict[str, Any]) -> bytes:
    """PNG bytes of :func:`pareto_figure`."""
    from sim.report.plotting import png_bytes

    return png_bytes(pareto_figure(opt, rows, front, baseline))


def pareto_figure(opt: Optimization, rows: pd.DataFrame, front: pd.DataFrame, baseline: dict[str, Any]):
    """The Pareto figure in objective space: the first two objectives' means (one objective: against the trial), every
    feasible policy tried that is dominated in grey, the infeasible ones as grey crosses, the Pareto
    policies coloured and numbered as in policies/, the baseline as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = opt.spec.objectives[:2]
    axes = [(f"{o.key}_mean", o) for o in objectives]
    if len(axes) == 1:
        axes.insert(0, ("trial", None))
    (x, ox), (y, oy) = axes
    scale = {key: _axis_scale(o, pd.concat([rows[key], front[key]])) for key, o in axes if o is not None}
    scale["trial"] = (1.0, "trial")
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    feasible = rows["feasible"].astype(bool)
    dominated = feasible & ~rows["trial"].isin(front["trial"])
    for mask, style in ((dominated, dict(color="0.65", s=18, label="dominated policies")),
                        (~feasible, dict(color="0.65", s=22, marker="x", label="policies breaking a constraint"))):
        if mask.any():
            ax.scatter(rows.loc[mask, x] / scale[x][0], rows.loc[mask, y] / scale[y][0], **style)
    ax.scatter(front[x] / scale[x][0], front[y] / scale[y][0], color="tab:red", s=40, zorder=3, label="Pareto policies")
    for k, (_, r) in enumerate(front.iterrows(), start=1):
        ax.annotate(str(k), (r[x] / scale[x][0], r[y] / scale[y][0]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    b = baseline["kpis"]
    if ox is not None:  # the baseline has no trial number
        ax.scatter([b[ox.key]["mean"] / scale[x][0]], [b[oy.key]["mean"] / scale[y][0]], marker="*", s=260, color="black",
                   zorder=4, label="baseline (levers untouched)")
    ax.set_xlabel(scale[x][1] if ox is None else f"{ox.key} ({ox.direction}), {scale[x][1]}")
    ax.set_ylabel(f"{oy.key} ({oy.direction}), {scale[y][1]}")
    ax.set_title(f"optimize {opt.spec.name}: the objectives of every policy tried", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def _axis_scale(objective, values: pd.Series) -> tuple[float, str]:
    """(divisor, unit label) of an objective's axis: one scale for all its values (:class:`RowScale`)."""
    scale = RowScale.of(f"cumulative_{objective.column}" if objective.agg == "cumulative" else objective.column, values.tolist())
    return scale.divisor, scale.unit


def write_outputs(opt: Optimization, out: Path, study: optuna.Study) -> dict[str, Any]:
    """Write pareto.csv, trials.csv, figures/pareto.png, policies/*.yaml and optimize.json into ``out``
    (each file whole or not at all; policies/ replaced as one folder); return optimize.json's content."""
    from sim.atomic import replaced_atomically

    trials = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    front = pareto_front(opt, trials)
    levers = list(opt.spec.levers)
    rows = pd.DataFrame([trial_row(opt, t, {"kpis": t.user_attrs["kpis"], "violations": t.user_attrs["violations"]},
                                   {p: t.params[p] for p in levers}) for t in trials])
    front_rows = rows[rows["trial"].isin([t.number for t in front])].reset_index(drop=True)
    baseline = study.user_attrs["baseline"]
    write_atomic(out / "pareto.csv", front_rows.to_csv(index=False).encode())
    write_atomic(out / "trials.csv", rows.to_csv(index=False).encode())
    (out / "figures").mkdir(exist_ok=True)
    write_atomic(out / "figures" / "pareto.png", pareto_png(opt, rows, front_rows, baseline))
    with replaced_atomically(out / "policies") as tmp:
        for k, t in enumerate(front, start=1):
            (tmp / f"{opt.spec.name}-policy-{k}.yaml").write_text(policy_yaml(opt, t, k, out / "policies"))
    result = {"generated_by": "freemium-sim optimize", "optimize": opt.spec.name, "source": opt.source,
              "sampler": "NSGA-II" if len(opt.spec.objectives) > 1 else "TPE (multivariate)",
              "optuna": optuna.__version__, "trials": len(trials), "replicates": opt.spec.replicates,
              "common_random_numbers": True, "warnings": list(opt.warnings), "baseline": baseline,
              "feasible": int(rows["feasible"].sum()) if len(rows) else 0,
              "pareto": json.loads(front_rows.to_json(orient="records"))}
    write_atomic(out / "optimize.json", json.dumps(result, indent=2).encode())
    return result
