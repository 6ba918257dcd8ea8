"""The sweep's folder on disk: a store that loses nothing when the process is killed.

Layout of ``DIR``::

    sweep.json      the resolved sweep (spec, base scenario, integer parameters)
    design.parquet  one row per design point: ``point`` and each swept key path
    parts/          one Parquet file per finished run, ``<run_id>.parquet``
    runs.parquet    every finished run: parts joined with the design, sorted by run_id
    series/         with ``keep:``, one Parquet file per run: its kept focal time series
    series.parquet  with ``keep:``, the kept series of every run recorded ok

Every file is written to a hidden temporary name in its final folder, flushed to
disk and ``os.replace``d into place, so a reader (or a resumed sweep) sees a file
whole or not at all, whenever the writer dies. The parts are the record; the
consolidated ``runs.parquet`` can always be rebuilt from them. Only the orchestrating
process writes, and it holds an exclusive lock on ``DIR/.lock`` while it does (the
kernel drops the lock when the process dies, however it dies), so two commands never
run the same sweep folder at once.
"""

from __future__ import annotations

import fcntl
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim.atomic import write_atomic
from sim.outputs import MARKER, SWEEP, write_marker
from sim.errors import LockError
from sim.scenario import ScenarioError

RUN_COLUMNS = ("run_id", "point", "replicate")
PART_BYTES = 16_384  # disk of one run: its part (a few kB of Parquet) and its rows of runs.parquet, generously
STATUS_COLUMNS = ("status", "error", "seconds")


def run_id(point: int, replicate: int, n_points: int, replicates: int) -> str:
    """Stable name of one run, e.g. ``p00012-r03``; widths depend only on the design size."""
    pw = max(5, len(str(n_points - 1)))
    rw = max(2, len(str(replicates - 1)))
    return f"p{point:0{pw}d}-r{replicate:0{rw}d}"


def part_schema(kpi_names: list[str]) -> pa.Schema:
    """Arrow schema of one run's record: ids, every KPI (float64, NaN when failed), status, error, seconds."""
    return pa.schema([("run_id", pa.string()), ("point", pa.int64()), ("replicate", pa.int64()),
                      *[(k, pa.float64()) for k in kpi_names],
                      ("status", pa.string()), ("error", pa.string()), ("seconds", pa.float64())])


def _design_table(design: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(design.reset_index(), preserve_index=False)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


class SweepStore:
    """Files of one sweep folder. Create with ``SweepStore(root, kpi_names)``."""

    def __init__(self, root: str | Path, kpi_names: list[str]):
        self.root = Path(root)
        self.parts = self.root / "parts"
        self.schema = part_schema(kpi_names)

        self.runs_path = self.root / "runs.parquet"
        self.spec_path = self.root / "sweep.json"
        self.design_path = self.root / "design.parquet"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's writer lock; LockError if another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockError(f"{self.root}: another freemium-sim sweep is writing to this folder; "
                                "wait for it to finish or use another --out folder") from None
            yield

    def prepare(self, resolved: dict[str, Any], design: pd.DataFrame) -> None:
        """Start a new sweep folder, or check that an existing one holds this very sweep.

        A folder made by a different sweep (any changed key of the spec, base scenario
        or design) is refused with a ScenarioError naming the differences.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / MARKER).exists():
            write_marker(self.root, SWEEP)  # first: this folder is a sweep's, and no other command replaces it
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in [*self.root.glob(".*.tmp"), *self.parts.glob(".*.tmp")]:
            stale.unlink()  # left by a writer killed mid-write: what it held was never recorded
        if self.spec_path.exists():
            self._check_same(read_resolved(self.root), resolved)
            if not self.design_path.exists():  # moved aside when damaged: the same spec gives the same design
                write_atomic(self.design_path, _parquet_bytes(_design_table(design)))
            self.check_design(design)
            return
        write_atomic(self.design_path, _parquet_bytes(_design_table(design)))
        # sweep.json last: its presence means design.parquet is complete too; key order kept (it orders the parameters)
        write_atomic(self.spec_path, json.dumps(resolved, indent=2).encode())

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        changed = _changed_paths(old, new)
        if changed:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            raise ScenarioError(f"{self.root}: holds results of a different sweep (changed: {shown}); "
                                "use another --out folder or delete this one to start afresh")

    def check_design(self, design: pd.DataFrame) -> None:
        """Refuse (ScenarioError) if ``design.parquet`` differs from the design generated now from the same spec."""
        if not read_parquet_table(self.design_path, "design").equals(_design_table(design)):
            raise ScenarioError(f"{self.design_path}: the design points differ from the ones this sweep "
                                "generates now (a different SALib version?); use another --out folder")

    def read_runs(self) -> pd.DataFrame:
        """The consolidated runs table; ScenarioError if the sweep never got that far."""
        if not self.runs_path.is_file():
            raise ScenarioError(f"{self.root}: no runs.parquet yet; run (or resume) the sweep first")
        return read_parquet_table(self.runs_path, "runs table").to_pandas()

    def write_part(self, record: dict[str, Any]) -> None:
        """Record one finished run (ok or failed), replacing an earlier record of the same run."""
        table = pa.Table.from_pylist([record], schema=self.schema)
        write_atomic(self.parts / f"{record['run_id']}.parquet", _parquet_bytes(table))

    def write_series(self, record: dict[str, Any], series: pd.DataFrame) -> None:
        """Keep one run's time series (date and kept columns) in ``series/<run_id>.parquet``."""
        (self.root / "series").mkdir(exist_ok=True)
        frame = series.assign(run_id=record["run_id"], point=record["point"], replicate=record["replicate"])
        table = pa.Table.from_pandas(frame[[*RUN_COLUMNS, *series.columns]], preserve_index=False)
        write_atomic(self.root / "series" / f"{record['run_id']}.parquet", _parquet_bytes(table))

    def consolidate_series(self) -> pd.DataFrame:
        """Rebuild ``series.parquet`` from the kept series of the runs recorded ok, sorted by run_id and date."""
        files = sorted((self.root / "series").glob("[!.]*.parquet"))
        ok = set(self.read_parts().query("status == 'ok'")["run_id"])
        frames = [read_parquet_table(f, "stored series").to_pandas() for f in files if f.stem in ok]
        series = (pd.concat(frames, ignore_index=True).sort_values(["run_id", "date"], ignore_index=True)
                  if frames else pd.DataFrame())
        if frames:
            write_atomic(self.root / "series.parquet", _parquet_bytes(pa.Table.from_pandas(series, preserve_index=False)))
        return series

    def read_parts(self) -> pd.DataFrame:
        """Every recorded run, one row per run_id (hidden temporaries are ignored)."""
        if not any(self.parts.glob("*.parquet")):
            return self.schema.empty_table().to_pandas()
        # dataset() skips names starting with '.' or '_', i.e. our temporaries
        try:
            return ds.dataset(self.parts, format="parquet", schema=self.schema).to_table().to_pandas()
        except (pa.ArrowException, OSError):
            for part in sorted(self.parts.glob("[!._]*.parquet")):  # name the damaged part
                read_parquet_table(part, "stored run")
            raise

    def consolidate(self, design: pd.DataFrame) -> pd.DataFrame:
        """Rebuild ``runs.parquet`` from the parts: ids, swept values, KPIs, status; sorted by run_id."""
        parts = self.read_parts()
        runs = parts.merge(design.reset_index(), on="point", how="left")
        kpis = [c for c in parts.columns if c not in RUN_COLUMNS + STATUS_COLUMNS]
        runs = runs[[*RUN_COLUMNS, *design.columns, *kpis, *STATUS_COLUMNS]]
        runs = runs.sort_values("run_id", ignore_index=True)
        write_atomic(self.runs_path, _parquet_bytes(pa.Table.from_pandas(runs, preserve_index=False)))
        return runs


def _changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted key paths where two JSON-like values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _changed_paths(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "(everything)"]


AFTER_MOVING_ASIDE = {  # what happens when a damaged file of a sweep folder is moved aside and the sweep resumed
    "stored run": "its run is run again when the sweep resumes",
    "design": "the resumed sweep writes it again",
    "runs table": "the resumed sweep rebuilds it from the stored runs",
    "stored series": "that run's series is then left out of series.parquet",
}


def read_parquet_table(path: Path, what: str) -> pa.Table:
    """The table in ``path``; ScenarioError naming it if it is truncated or not Parquet (a disk that filled,
    a copy cut short): the message says what to move aside, and what a resumed sweep then does."""
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        again = AFTER_MOVING_ASIDE[what]
        raise ScenarioError(f"{path}: a damaged {what} ({str(exc).splitlines()[0][:160]}); move it aside: {again}") from None


def read_resolved(root: str | Path) -> dict[str, Any]:
    """The resolved sweep a folder was made by (``Sweep.resolved()``); ScenarioError if it is not a sweep folder."""
    path = Path(root) / "sweep.json"
    if not path.is_file():
        raise ScenarioError(f"{root}: not a sweep folder (no sweep.json); run `freemium-sim sweep` first")
    try:
        resolved = json.loads(path.read_bytes())
    except (ValueError, OSError) as exc:  # truncated, not UTF-8, not JSON
        raise ScenarioError(f"{path}: damaged ({str(exc)[:160]}); move the folder aside and run the sweep again") from None
    if not isinstance(resolved, dict):
        raise ScenarioError(f"{path}: not a sweep's description (a JSON {type(resolved).__name__}); move the folder aside")
    return resolved
