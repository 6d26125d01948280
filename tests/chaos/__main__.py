"""`python -m tests.chaos` (`./dev chaos`): every experiment, long form, and the table.

./dev chaos [--sos 2000] [--experiments baseline,postgres-outage] [--short] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import platform
import sys
from pathlib import Path

from rich.console import Console

from tests.chaos.counts import Figures
from tests.chaos.experiments import EXPERIMENTS, LONG, SHORT, run_experiment
from tests.chaos.harness import ChaosHarness
from tests.chaos.report import markdown, notes, table

console = Console(width=400)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--sos", type=int, help="SOS presses per experiment (long form: 2000)")
    parser.add_argument("--terminals", type=int, help="SOS terminals per experiment")
    parser.add_argument(
        "--experiments",
        default=",".join(EXPERIMENTS),
        help=f"comma-separated, of: {', '.join(EXPERIMENTS)}",
    )
    parser.add_argument("--short", action="store_true", help="the normal test run's sizes")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder and logs")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--product",
        type=Path,
        help="run this checkout of the project (e.g. `git archive` of an older commit) as the "
        "system, instead of the installed one",
    )
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> list[Figures]:
    names = [n.strip() for n in args.experiments.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiments: {', '.join(unknown)}")
    scale = SHORT if args.short else LONG
    if args.sos:
        scale = dataclasses.replace(scale, sos=args.sos)
    if args.terminals:
        scale = dataclasses.replace(scale, terminals=args.terminals)
    # Every experiment takes elders of its own: seed enough for all of them (and their monitors).
    seed_count = max(200, int(1.4 * len(names) * (scale.terminals + scale.monitors)) + 50)
    harness = ChaosHarness(seed_count, product=args.product)
    console.print(f"chaos run in {harness.folder}: seeding {seed_count} elders, starting servers")
    results: list[Figures] = []
    try:
        await harness.start()
        console.print(f"started in {harness.startup_s:.0f} s")
        for name in names:
            console.print(f"[bold]{name}[/bold] ({scale.sos} SOS, {scale.terminals} terminals)")
            try:
                figures = await run_experiment(harness, name, scale)
            except Exception as error:  # one broken experiment must not hide the others' figures
                console.print_exception()
                figures = Figures(name, notes={"error": f"{type(error).__name__}: {error}"})
            results.append(figures)
            console.print(table([figures], title=name))
            console.print(notes([figures]))
    finally:
        await harness.close(keep_folder=args.keep)
        if args.keep:
            console.print(f"logs kept in {harness.folder}")
    return results


def main() -> None:
    """Run, print the table, exit 1 if any experiment failed."""
    args = _arguments()
    started = dt.datetime.now(dt.UTC)
    results = asyncio.run(_main(args))
    title = f"chaos {started:%Y-%m-%d %H:%M} UTC, {platform.node()}, {' '.join(sys.argv[1:])}"
    console.print(table(results, title=title))
    console.print(notes(results))
    if args.markdown:
        print(markdown(results))
    sys.exit(0 if all(not f.failures and "error" not in f.notes for f in results) else 1)


if __name__ == "__main__":
    main()
