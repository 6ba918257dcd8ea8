"""Write ``docs/numbers/guide.json``: the figures docs/user-guide.md quotes, from the commands it shows.

Runs the user guide's example commands as written there (20,000 listeners, 4 replicates, the
baseline's seed), keeps an excerpt of each console table and the figures its prose quotes, then
puts them into the docs (``sim.docnumbers``). About 3 minutes on 2 idle cores.

    python tools/guide_numbers.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import docnumbers  # noqa: E402
from sim.metrics import format_kpi  # noqa: E402
from sim.report.display import format_change, format_interval  # noqa: E402

SIZE = ["--set", "market.agents=20000", "--replicates", "4"]
COMMANDS = {  # key -> the arguments the guide shows after ``freemium-sim``
    "run": ["run", "scenarios/baseline.yaml", *SIZE],
    "compare": ["compare", "scenarios/baseline.yaml", "scenarios/price_hike.yaml", *SIZE],
    "whatif": ["compare", "scenarios/baseline.yaml", "--from", "2022-01", "--set", "services.focal.plans.individual.price=10.99",
               "--set", "services.focal.ad_load=2", *SIZE, "--window", "2022-01:2024-12"],
    "later": ["compare", "scenarios/baseline.yaml", "--from", "2024-08", "--set", "services.focal.plans.individual.price=12.99",
              "--set", "services.focal.ad_load=2", *SIZE, "--set", "time.months=144", "--window", "2025-01:2026-12"],
    "later_price": ["compare", "scenarios/baseline.yaml", "--from", "2024-08", "--set", "services.focal.plans.individual.price=12.99",
                    *SIZE, "--set", "time.months=144", "--window", "2025-01:2026-12"],
    # the regional walk-throughs (section 3.2)
    "latam": ["compare", "scenarios/baseline.yaml", "--from", "2023-01", "--set",
              "services.focal.regions.latin_america.price_multiplier=1.15", *SIZE, "--window", "2023-01:2024-12"],
    "europe": ["compare", "scenarios/baseline.yaml", "--from", "2026-01", "--set", "services.focal.regions.europe.free_tier=false",
               *SIZE, "--set", "time.months=144", "--window", "2026-01:2026-12"],
}
# the KPI rows each excerpt keeps (the other tables of an output are kept whole)
ROWS = {
    "run": ("mau", "premium_subscribers", "free_users", "revenue_total_eur", "ad_revenue_share", "churn_premium_monthly",
            "arpu_premium_eur", "market_share", "gross_margin", "support_response_hours", "cumulative_revenue_total_eur"),
    "compare": ("premium_subscribers", "free_users", "revenue_total_eur", "ad_revenue_share", "churn_premium_monthly",
                "arpu_premium_eur", "cumulative_gross_profit_eur"),
    "whatif": ("premium_subscribers", "free_users", "cumulative_revenue_subscription_eur", "cumulative_revenue_ads_eur",
               "cumulative_gross_profit_eur", "mean_premium_subscribers", "mean_ad_revenue_share"),
}
ROWS["later"] = ROWS["later_price"] = ROWS["whatif"]
ROWS["latam"] = ("premium_subscribers", "mau", "arpu_premium_eur", "cumulative_revenue_subscription_eur", "cumulative_gross_profit_eur")
ROWS["europe"] = ("premium_subscribers", "free_users", "mau", "cumulative_revenue_subscription_eur", "cumulative_revenue_ads_eur",
                  "cumulative_gross_profit_eur")
for key, args in COMMANDS.items():  # a comparison shows the rows the guide keeps (--kpi); run's table is cut below
    if args[0] == "compare":
        args += [flag for kpi in ROWS[key] for flag in ("--kpi", kpi)]
REGIONS = {"latam": ("latin_america", "europe"), "europe": ("europe", "latin_america")}  # the regions the prose quotes


def run(args: list[str], out: Path) -> tuple[str, dict]:
    """Console output (the warnings of stderr, then stdout) and the JSON result of one ``freemium-sim`` command."""
    env = {**os.environ, "COLUMNS": "132", "TERM": "dumb"}
    done = subprocess.run([sys.executable, "-m", "sim.cli", *args, "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"freemium-sim {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    result = json.loads((out / ("summary.json" if args[0] == "run" else "comparison.json")).read_text())
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    return "\n".join([*warnings, done.stdout]), result


def excerpt(console: str, keep: tuple[str, ...], start: str = "") -> str:
    """The console tables from the first line holding ``start`` on, with only the ``keep`` KPI rows;
    no progress or 'results in' lines."""
    from sim.metrics import KPIS

    names = {k.name for k in KPIS} | {f"{p}_{k.name}" for k in KPIS for p in ("mean", "cumulative")}
    lines = []
    text = console[console.rfind("\n", 0, console.index(start)) + 1:] if start else console
    for line in text.splitlines():
        first = line.split("│")[1].strip() if line.startswith("│") else None
        if first in names and first not in keep:
            continue
        if line.startswith(("Results in", "Report:", "Comparison in")):
            continue
        lines.append(line.rstrip())
    return "```text\n" + "\n".join(lines).strip("\n") + "\n```\n"


def diff_figures(prefix: str, kpis: dict, names: tuple[str, ...]) -> dict[str, str]:
    """A, B - A and its 95% interval of each KPI, as the tables print them."""
    out = {}
    for n in names:
        k = kpis[n]
        out[f"{prefix}.{n}.a"] = format_kpi(k["a_mean"], n)
        out[f"{prefix}.{n}.diff"] = format_change(k["diff_mean"], n)
        out[f"{prefix}.{n}.ci"] = format_interval(k["diff_ci95_low"], k["diff_ci95_high"], n, signed=True)
    return out


def figures(results: dict[str, dict]) -> dict[str, str]:
    """The figures the guide's prose quotes."""
    s = results["run"]["kpis"]
    out = {f"run.{n}": format_kpi(s[n]["mean"], n) for n in ("mau", "premium_subscribers", "free_users", "ad_revenue_share",
                                                             "arpu_premium_eur", "support_response_hours")}
    out["run.premium_subscribers.ci"] = format_interval(s["premium_subscribers"]["ci95_low"],
                                                        s["premium_subscribers"]["ci95_high"], "premium_subscribers")
    out |= diff_figures("compare", results["compare"]["kpis"], ("premium_subscribers", "revenue_total_eur",
                                                               "arpu_premium_eur", "churn_premium_monthly"))
    for key in ("whatif", "later", "later_price"):
        out |= diff_figures(key, results[key]["kpis"], ("mean_premium_subscribers", "cumulative_revenue_subscription_eur",
                                                        "cumulative_gross_profit_eur"))
    for key, regions in REGIONS.items():
        out |= diff_figures(key, results[key]["kpis"], ROWS[key])
        for region in regions:
            out |= diff_figures(f"{key}.{region}", results[key]["regions"]["B"][region], ("premium_subscribers", "free_users"))
    return out


def main() -> int:
    numbers, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, args in COMMANDS.items():
            console, results[key] = run(args, Path(tmp) / key)
            numbers[f"{key}.command"] = "freemium-sim " + " ".join(args)
            # the price_hike file's differences from the baseline are a long table: the guide describes them
            numbers[f"{key}.output"] = excerpt(console, ROWS[key], "paired replicates" if key == "compare" else "")
            print(f"{numbers[f'{key}.command']}: done", flush=True)
    numbers |= figures(results)
    path = docnumbers.write("guide", "python tools/guide_numbers.py", numbers,
                            inputs=[ROOT / "scenarios" / "baseline.yaml", ROOT / "scenarios" / "price_hike.yaml"])
    print(f"wrote {path}")
    for doc in docnumbers.refresh_documents():
        print(f"updated the generated numbers of {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
