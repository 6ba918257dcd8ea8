"""How fast the teaching dashboard advances: model step and redraw cost, in months per second.

Does what the page's play loop does each tick (pause ``PLAY_INTERVAL_MS``, one model step,
then the page's redraw: the six market charts with a live change's marker and, unless
``--no-ghost``, the ghost (the unchanged market, stepped alongside), the network figure
and the text) and times each part. Target: at least 5 months/s with 20,000 listeners on
the 2-core machine.

    .venv/bin/python benchmarks/dashboard.py [--listeners 20000] [--months 48] [--no-ghost]

Prints months/s (wall clock and CPU); asserts nothing. Wall clock depends on what else
the machine runs; CPU seconds show the cost of the code itself.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sim import app


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=app.DEFAULT_LISTENERS)
    parser.add_argument("--months", type=int, default=48, help="months to play (after 6 warm-up months)")
    parser.add_argument("--no-ghost", dest="ghost", action="store_false", help="the ghost switched off")
    args = parser.parse_args()

    base = app.load_dashboard_scenario()
    build = timed(lambda: app.DashboardModel(base, listeners=args.listeners))
    model = app.DashboardModel(base, listeners=args.listeners)
    charts, network = app.MarketCharts(model), app.NetworkFigure(model)

    def redraw() -> None:
        charts.pngs(args.ghost)
        network.png(0)
        app.readout(model)
        app.run_notes(model)

    for _ in range(6):  # warm-up: first backgrounds, caches
        model.step()
        redraw()
    model.request("ad_load", 5.0)  # a live change, as in class: its marker is redrawn every month
    months = min(args.months, model.n_steps - model.t)
    parts = {"pause": [], "step": [], "redraw": []}
    for _ in range(months):
        parts["pause"].append(timed(time.sleep, app.PLAY_INTERVAL_MS / 1000))
        parts["step"].append(timed(model.step))
        parts["redraw"].append(timed(redraw))

    total = {name: np.sum(values, axis=0) for name, values in parts.items()}
    print(f"dashboard benchmark: {args.listeners:,} listeners, {months} months, scenario '{base.name}', "
          f"ghost {'on' if args.ghost else 'off'}")
    print(f"  reset (build the model and the network sample): {build[0]:.2f} s wall, {build[1]:.2f} s CPU")
    for name, (wall, cpu) in total.items():
        print(f"  {name:<6} {1000 * wall / months:7.1f} ms/month wall {1000 * cpu / months:7.1f} ms/month CPU")
    step_wall, step_cpu = total["step"]
    all_wall = sum(w for w, _ in total.values())
    all_cpu = total["pause"][0] + step_cpu + total["redraw"][1]  # a pause waits: count it as wall time
    print(f"  model step alone: {months / step_wall:6.1f} months/s wall, {months / step_cpu:6.1f} months/s CPU")
    print(f"  dashboard playing (pause + step + redraw): {months / all_wall:6.1f} months/s wall, "
          f"{months / all_cpu:6.1f} months/s on an idle machine (CPU + pause)")


if __name__ == "__main__":
    main()
