"""Server CPU per request: the figure to optimise against on a shared machine.

rps moves with whatever else the two cores are doing; the CPU time a worker spends per
answered request (utime + stime from /proc/<pid>/stat over a wrk run, divided by the
requests) barely does. This seeds a PostgreSQL database once (kept between runs with
`--state`), serves Goodwill with one worker, loads the rows asked for with wrk, and prints
rps and CPU ms per request for each (the worker's, and PostgreSQL's: every `postgres`
process on the machine), next to the hello world's. `--py-spy` also records each
row's stacks (`py-spy -f raw`, to bench/results/pyspy-<row>.txt) (py-spy must be on the PATH).

    .venv/bin/python -m bench.cpu get_contact list_page_1 post_ledger
    .venv/bin/python -m bench.cpu --drop     # drop the kept database

The rows are `bench/run.py`'s request files (get_contact, list_page_1, list_page_deep,
search_name, search_email, reciprocity_10, post_ledger, post_interaction, ...).
"""

import argparse
import asyncio
import os
import pickle
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import run as bench_run
from bench import seed, servers

TICKS = os.sysconf("SC_CLK_TCK")
RESULTS = bench_run.RESULTS


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def load_state(state: Path, base_url: str, quick: bool) -> tuple[str, seed.Generator]:
    if state.exists():
        url, gen = pickle.loads(state.read_bytes())  # noqa: S301 - our own file
        return url, gen
    name = f"goodwill_cpu_{secrets.token_hex(4)}"
    asyncio.run(bench_run.admin(base_url, f'CREATE DATABASE "{name}"'))
    url = bench_run.with_database(base_url, name)
    gen, info = bench_run.seed_postgres(url, seed.QUICK if quick else seed.FULL)
    print(f"seeded {name} in {info['seed_seconds']} s", file=sys.stderr)
    state.write_bytes(pickle.dumps((url, gen)))
    return url, gen


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on the machine (the local cluster the rows load)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def postgres_cpu_seconds() -> float:
    total = 0.0
    for pid in postgres_pids():
        try:
            total += cpu_seconds([pid])
        except OSError:  # a backend that ended meanwhile
            pass
    return total


def measure(
    server: servers.Server, data: Path, args: argparse.Namespace
) -> tuple[float, float, float, float]:
    """One wrk run: (rps, worker CPU ms per request, PostgreSQL CPU ms per request, largest
    worker RSS in MB)."""
    pids = server.worker_pids()
    servers.wrk(server, data, threads=2, connections=args.connections, seconds=1)  # warm-up
    spy = None
    if args.py_spy:
        out = RESULTS / f"pyspy-{data.stem}.txt"
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(pids[0]), "-o", str(out), "-r", "250",
             "-d", str(args.seconds), "--nonblocking", "-f", "raw"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    before, database_before = cpu_seconds(pids), postgres_cpu_seconds()
    result = servers.wrk(
        server, data, threads=2, connections=args.connections, seconds=args.seconds
    )
    used = cpu_seconds(pids) - before
    database = postgres_cpu_seconds() - database_before
    if spy is not None:
        spy.wait(timeout=args.seconds + 30)
    if result["not_2xx"] + result["socket_errors"]:
        raise servers.RunFailed(f"{data.stem}: errors or non-2xx answers: {result}")
    requests = max(1, result["requests"])
    return result["rps"], 1000 * used / requests, 1000 * database / requests, max(result["rss_mb"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", default=["get_contact"])
    parser.add_argument("--state", type=Path, default=RESULTS / "cpu-state.pickle")
    parser.add_argument("--database-url", default=bench_run.DEFAULT_URL)
    parser.add_argument("--quick", action="store_true", help="the small seed")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="runs per row; medians shown")
    parser.add_argument("--py-spy", action="store_true", help="record stacks per row")
    parser.add_argument("--drop", action="store_true", help="drop the kept database and stop")
    args = parser.parse_args()
    if args.drop:
        if args.state.exists():
            url, _ = pickle.loads(args.state.read_bytes())  # noqa: S301 - our own file
            name = url.rpartition("/")[2]
            asyncio.run(bench_run.admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}"'))
            args.state.unlink()
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    url, gen = load_state(args.state, args.database_url, args.quick)
    with tempfile.TemporaryDirectory(prefix="goodwill-cpu-") as tmp:
        workdir = Path(tmp)
        lite = seed.Generator(seed.SQLITE_QUICK, seed=1122)
        bench_run.use_signing_secret(url)
        files = bench_run.request_files(gen, lite, workdir)
        hello = servers.start("hello", args.workers, workdir)
        app = servers.start("postgresql", args.workers, workdir, database_url=url)
        try:
            for server in (hello, app):
                servers.wait_ready(server)
            print(f"{'row':<28} {'rps':>8} {'CPU ms/req':>10} {'DB ms/req':>9} {'RSS MB':>7}")
            rows = ["hello", *args.rows]
            results: dict[str, list[tuple[float, float, float, float]]] = {r: [] for r in rows}
            for _ in range(args.rounds):  # round-robin, so drift falls on every row alike
                for row in rows:
                    server = hello if row == "hello" else app
                    results[row].append(measure(server, files[row], args))
            for row in rows:
                rps = statistics.median(r[0] for r in results[row])
                cpus = [r[1] for r in results[row]]
                database = statistics.median(r[2] for r in results[row])
                rss = max(r[3] for r in results[row])
                spread = f"  ({min(cpus):.3f}-{max(cpus):.3f})" if args.rounds > 1 else ""
                line = (
                    f"{row:<28} {rps:>8.0f} {statistics.median(cpus):>10.3f} {database:>9.3f} "
                    f"{rss:>7.0f}"
                )
                print(line + spread, flush=True)
        finally:
            servers.stop(app)
            servers.stop(hello)
    return 0


if __name__ == "__main__":
    sys.exit(main())
