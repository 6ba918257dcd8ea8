"""Seconds to read and validate a scenario with 1,000, 5,000 and 20,000 timeline events.

Validation tries every event's ``set`` on the scenario without its timeline, so the time
grows linearly with the number of events (it grew quadratically before: 1,000 events
took 23 s). Two kinds of timeline: every event sets a different value (each one is
validated) and a few values repeated (each distinct change is validated once).
Prints figures; asserts nothing (timings depend on the machine).

    .venv/bin/python benchmarks/timeline_validation.py [--events 1000 5000 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.scenario import load_scenario


def scenario_text(events: int, distinct: bool) -> str:
    lines = ["name: many", "time: {start: 2015-01, months: 600}", "timeline:"]
    for k in range(events):
        month = k % 600
        value = 1 + (k / events if distinct else k % 7) * 4
        lines.append(f"  - {{at: {2015 + month // 12}-{month % 12 + 1:02d}, set: {{services.focal.ad_load: {value:.6f}}}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, nargs="+", default=[1000, 5000, 20000])
    args = p.parse_args()
    print(f"{'events':>8} {'values':>9} {'MB':>6} {'seconds':>8} {'ms/event':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.events:
            for distinct in (True, False):
                path = Path(tmp) / f"timeline-{n}.yaml"
                path.write_text(scenario_text(n, distinct))
                start = time.perf_counter()
                load_scenario(path)
                seconds = time.perf_counter() - start
                print(f"{n:>8} {'distinct' if distinct else 'repeated':>9} {path.stat().st_size / 1e6:>6.2f} "
                      f"{seconds:>8.2f} {1000 * seconds / n:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
