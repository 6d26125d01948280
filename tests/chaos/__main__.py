"""`python -m tests.chaos` (`./dev chaos`): every experiment, long form, and the table.

./dev chaos [--sos 2000] [--experiments baseline,postgres-outage] [--short] [--keep]
            [--topology edge-core|single]
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
from tests.chaos.experiments import EXPERIMENTS, LONG, MEASUREMENTS, SHORT, fits, run_experiment
from tests.chaos.harness import EDGE_CORE, SINGLE, ChaosHarness
from tests.chaos.report import markdown, notes, table

console = Console(width=400)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./dev chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--sos", type=int, help="SOS presses per experiment (long form: 2000)")
    parser.add_argument("--terminals", type=int, help="SOS terminals per experiment")
    parser.add_argument(
        "--experiments",
        help=f"comma-separated, of: {', '.join(EXPERIMENTS)} (default: all that fit the topology)",
    )
    parser.add_argument(
        "--topology",
        choices=[EDGE_CORE, SINGLE],
        default=EDGE_CORE,
        help="devices on an edge broker bridged to the gateways' core (as deployed), or "
        "devices and gateways on one broker (broker-restart measures what that loses)",
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
    if args.experiments is None:
        names = [n for n in EXPERIMENTS if fits(n, args.topology)]
    else:
        names = [n.strip() for n in args.experiments.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiments: {', '.join(unknown)}")
    misfits = [n for n in names if not fits(n, args.topology)]
    if misfits:
        raise SystemExit(f"not on the {args.topology} topology: {', '.join(misfits)}")
    scale = SHORT if args.short else LONG
    if args.sos:
        scale = dataclasses.replace(scale, sos=args.sos)
    if args.terminals:
        scale = dataclasses.replace(scale, terminals=args.terminals)
    # Every experiment takes elders of its own: seed enough for all of them (and their monitors).
    seed_count = max(200, int(1.4 * len(names) * (scale.terminals + scale.monitors)) + 50)
    harness = ChaosHarness(seed_count, product=args.product, topology=args.topology)
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
    # A measurement (MEASUREMENTS) reports its loss; only an error in running it fails the run.
    failed = [
        f
        for f in results
        if "error" in f.notes or (f.failures and f.experiment not in MEASUREMENTS)
    ]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
