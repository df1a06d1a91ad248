"""Reciprocity read latency against the length of a contact's ledger, on PostgreSQL.

The balance is kept on the contact row and moved by every entry, so reading it should cost
the same for 10 entries as for 100,000. This seeds three contacts with ledgers of those
lengths in a fresh database, serves the app with `goodwill serve`, and times
GET /v1/contacts/{id}/reciprocity for each: sequentially on one keep-alive connection, then
with concurrent clients. See bench/README.md.

    .venv/bin/python bench/reciprocity.py [--quick]

Exits non-zero only when the run itself fails (an error, a non-2xx answer, a wrong
balance, the time budget), never because something was slow.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from app.auth import service as auth
from app.auth.schemas import Scope
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.migrations import upgrade
from app.core.types import new_id

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
GOODWILL = str(Path(sys.executable).with_name("goodwill"))
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BUDGET_SECONDS = 170  # the whole run, seeding included, stays under three minutes
READY_SECONDS = 20
SEQUENTIAL_BLOCK = 50  # requests to one contact before moving to the next
CONCURRENT_ROUND_SECONDS = 1.0  # likewise for the concurrent phase
REQUESTS_CAP = 100_000  # per contact and phase: a bound on the count, whatever the speed
KINDS = ("introduction", "referral", "advice", "endorsement", "share", "thanks", "favor")
LEDGER_COLUMNS = (
    "owner_id",
    "id",
    "contact_id",
    "direction",
    "kind",
    "weight",
    "occurred_at",
    "note",
    "reverses_id",
    "created_at",
)


@dataclass(frozen=True)
class Profile:
    sizes: tuple[int, ...]
    requests: int  # sequential, per contact
    warmup: int  # unmeasured requests per contact before each phase
    concurrency: int
    seconds: float  # the concurrent phase, per contact


FULL = Profile(sizes=(10, 10_000, 100_000), requests=500, warmup=50, concurrency=16, seconds=3)
QUICK = Profile(sizes=(10, 1_000, 5_000), requests=100, warmup=10, concurrency=8, seconds=1)


class RunFailed(Exception):
    """The benchmark could not measure what it set out to (not: it was slow)."""


@dataclass
class Stats:
    n: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float


class Clock:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise RunFailed(f"the run went over its {self.seconds:g} s budget")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    rank = max(1, math.ceil(len(sorted_values) * p / 100))
    return sorted_values[rank - 1]


def summarize(latencies: list[float], elapsed: float) -> Stats:
    ordered = sorted(latencies)
    return Stats(
        n=len(ordered),
        p50_ms=round(percentile(ordered, 50) * 1000, 3),
        p95_ms=round(percentile(ordered, 95) * 1000, 3),
        p99_ms=round(percentile(ordered, 99) * 1000, 3),
        rps=round(len(ordered) / elapsed, 1),
    )


def expect_ok(response: httpx.Response) -> httpx.Response:
    if not 200 <= response.status_code < 300:
        raise RunFailed(f"{response.request.url} answered {response.status_code}: {response.text}")
    return response


# --- the database -------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def admin(url: str, sql: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


async def create_owner(url: str) -> tuple[str, str]:
    engine = create_engine(Settings(database_url=url), pooled=False)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            owner = await auth.create_owner(session, email="bench@example.com", name="Bench")
            key = await auth.create_api_key(
                session, owner_id=owner.id, name="bench", scopes=[Scope.read, Scope.write]
            )
            return owner.id, key.api_key
    finally:
        await engine.dispose()


def ledger_rows(rng: random.Random, owner_id: str, contact_id: str, count: int) -> list[tuple]:
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        at = now - timedelta(seconds=rng.randint(60, 365 * 86_400))
        direction = "gave" if rng.random() < 0.7 else "received"
        weight = rng.randint(1, 5)
        kind = rng.choice(KINDS)
        rows.append(
            (owner_id, new_id("le"), contact_id, direction, kind, weight, at, None, None, at)
        )
    return rows


def build_rows(owner_id: str, ledgers: dict[str, int]) -> list[tuple]:
    rng = random.Random(20261122)
    return [
        row
        for contact_id, count in ledgers.items()
        for row in ledger_rows(rng, owner_id, contact_id, count)
    ]


def sums(rows: list[tuple]) -> dict[str, tuple[int, int]]:
    """Each contact's (deposits, withdrawals), added up here rather than by the database."""
    totals: dict[str, list[int]] = {}
    for _, _, contact_id, direction, _, weight, *_ in rows:
        totals.setdefault(contact_id, [0, 0])[0 if direction == "gave" else 1] += weight
    return {contact_id: (d, w) for contact_id, (d, w) in totals.items()}


async def load(url: str, owner_id: str, rows: list[tuple]) -> None:
    """COPY the entries in, then set each contact's totals to their sums in one UPDATE, so
    the balance on the row equals its entries, as the app itself keeps it."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("ledger_entry", records=rows, columns=LEDGER_COLUMNS)
            await conn.execute(
                """
                UPDATE contact SET
                    ledger_deposits = sums.deposits, ledger_withdrawals = sums.withdrawals
                FROM (
                    SELECT contact_id,
                        COALESCE(SUM(weight) FILTER (WHERE direction = 'gave'), 0) AS deposits,
                        COALESCE(SUM(weight) FILTER (WHERE direction = 'received'), 0)
                            AS withdrawals
                    FROM ledger_entry WHERE owner_id = $1 GROUP BY contact_id
                ) AS sums
                WHERE contact.owner_id = $1 AND contact.id = sums.contact_id
                """,
                owner_id,
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "GOODWILL_DATABASE_URL": url, "GOODWILL_RATE_LIMIT": "10000000/minute"}
    # In-process rate limiting, so the figures are the database read and not a Redis hop.
    env.pop("GOODWILL_REDIS_URL", None)
    with log.open("w") as out:  # a file, not a pipe: every request is logged
        return subprocess.Popen(
            [GOODWILL, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RunFailed(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RunFailed(f"the server was not ready after {READY_SECONDS} s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)


# --- measuring ----------------------------------------------------------------------------


def measure_sequential(
    client: httpx.Client, paths: list[str], profile: Profile, clock: Clock
) -> list[Stats]:
    """Round-robin blocks over the contacts, so that any drift of the machine during the
    run (caches warming, another process) lands on every size alike, not on the last."""
    for _ in range(profile.warmup):
        for path in paths:
            expect_ok(client.get(path))
    latencies: list[list[float]] = [[] for _ in paths]
    busy = [0.0 for _ in paths]
    for start in range(0, profile.requests, SEQUENTIAL_BLOCK):
        for i, path in enumerate(paths):
            block_started = time.perf_counter()
            for _ in range(min(SEQUENTIAL_BLOCK, profile.requests - start)):
                clock.check()
                sent = time.perf_counter()
                expect_ok(client.get(path))
                latencies[i].append(time.perf_counter() - sent)
            busy[i] += time.perf_counter() - block_started
    return [summarize(lat, seconds) for lat, seconds in zip(latencies, busy, strict=True)]


async def measure_concurrent(
    base: str, headers: dict[str, str], paths: list[str], profile: Profile, clock: Clock
) -> list[Stats]:
    """`concurrency` clients on one contact at a time, in rounds of at most a second that
    go round the contacts, for the same reason as the sequential blocks."""
    limits = httpx.Limits(max_connections=profile.concurrency)
    rounds = max(1, math.ceil(profile.seconds / CONCURRENT_ROUND_SECONDS))
    latencies: list[list[float]] = [[] for _ in paths]
    busy = [0.0 for _ in paths]
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=10, limits=limits
    ) as client:

        async def worker(path: str, into: list[float], deadline: float) -> None:
            while time.perf_counter() < deadline and len(into) < REQUESTS_CAP:
                sent = time.perf_counter()
                expect_ok(await client.get(path))
                into.append(time.perf_counter() - sent)

        async def warm(path: str) -> None:
            for _ in range(max(1, profile.warmup // profile.concurrency)):
                expect_ok(await client.get(path))

        for path in paths:  # opens every client's connection, too
            await asyncio.gather(*(warm(path) for _ in range(profile.concurrency)))
        for _ in range(rounds):
            for i, path in enumerate(paths):
                clock.check()
                started = time.perf_counter()
                deadline = started + profile.seconds / rounds
                await asyncio.gather(
                    *(worker(path, latencies[i], deadline) for _ in range(profile.concurrency))
                )
                busy[i] += time.perf_counter() - started
    return [summarize(lat, seconds) for lat, seconds in zip(latencies, busy, strict=True)]


# --- the run ------------------------------------------------------------------------------


def measure_all(
    base: str, api_key: str, contacts: dict[int, str], profile: Profile, clock: Clock
) -> list[dict]:
    headers = {"Authorization": f"Bearer {api_key}"}
    paths = [f"/v1/contacts/{cid}/reciprocity?ask_weight=2" for cid in contacts.values()]
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        sequential = measure_sequential(client, paths, profile, clock)
    concurrent = asyncio.run(measure_concurrent(base, headers, paths, profile, clock))
    return [
        {"entries": size, "sequential": asdict(seq), "concurrent": asdict(conc)}
        for size, seq, conc in zip(contacts, sequential, concurrent, strict=True)
    ]


def check_balances(
    base: str, api_key: str, contacts: dict[int, str], expected: dict[str, tuple[int, int]]
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    for contact_id in contacts.values():
        got = expect_ok(
            httpx.get(f"{base}/v1/contacts/{contact_id}/reciprocity", headers=headers, timeout=10)
        ).json()
        if (got["deposits"], got["withdrawals"]) != expected[contact_id]:
            raise RunFailed(f"{contact_id}: balance {got} does not match its entries")


def run(profile: Profile, base_url: str, workdir: Path) -> dict:
    clock = Clock(BUDGET_SECONDS)
    name = f"goodwill_bench_{secrets.token_hex(4)}"
    url = with_database(base_url, name)
    server_version = asyncio.run(admin(base_url, f'CREATE DATABASE "{name}"'))
    server = None
    try:
        upgrade(url)
        owner_id, api_key = asyncio.run(create_owner(url))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = workdir / "server.log"
        server = start_server(url, port, log)
        try:
            wait_ready(base, server)
            contacts = {}
            for size in profile.sizes:
                created = httpx.post(
                    f"{base}/v1/contacts",
                    json={"display_name": f"Ledger of {size:,}"},
                    headers={"Authorization": f"Bearer {api_key}"},
                    timeout=10,
                )
                contacts[size] = expect_ok(created).json()["id"]
            clock.check()
            started = time.perf_counter()
            rows = build_rows(owner_id, {cid: size for size, cid in contacts.items()})
            built = time.perf_counter()
            asyncio.run(load(url, owner_id, rows))
            loaded = time.perf_counter()
            check_balances(base, api_key, contacts, sums(rows))
            clock.check()
            results = measure_all(base, api_key, contacts, profile, clock)
        except BaseException:
            if log.exists():
                sys.stderr.write(f"--- server log (tail) ---\n{log.read_text()[-3000:]}\n")
            raise
    finally:
        if server is not None:
            stop_server(server)
        asyncio.run(admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return {
        "seed": {
            "entries": len(rows),
            "build_seconds": round(built - started, 3),
            "load_seconds": round(loaded - built, 3),
            "seconds": round(loaded - started, 3),
            "entries_per_second": round(len(rows) / (loaded - started)),
        },
        "results": results,
        "postgres": server_version,
    }


def p50_ratio(results: list[dict], phase: str) -> float:
    first, last = results[0][phase]["p50_ms"], results[-1][phase]["p50_ms"]
    return round(last / first, 3)


def print_table(report: dict, profile: Profile) -> None:
    seed = report["seed"]
    print(
        f"\nseeded {seed['entries']:,} ledger entries in {seed['seconds']:.2f} s "
        f"({seed['entries_per_second']:,}/s: {seed['build_seconds']:.2f} s building rows, "
        f"{seed['load_seconds']:.2f} s COPY + UPDATE + ANALYZE)\n"
    )
    sequential = f"sequential, {profile.requests} per size"
    concurrent = f"{profile.concurrency} concurrent for {profile.seconds:g} s"
    print(f"{'entries':>9} | {sequential:<31} | {concurrent}")
    header = f"{'p50':>7} {'p95':>7} {'p99':>7} {'rps':>7}"
    print(f"{'':>9} | {header} | {header}")
    for row in report["results"]:
        cells = [
            f"{row[phase][k]:>7.2f}" if k != "rps" else f"{row[phase][k]:>7.0f}"
            for phase in ("sequential", "concurrent")
            for k in ("p50_ms", "p95_ms", "p99_ms", "rps")
        ]
        print(f"{row['entries']:>9,} | {' '.join(cells[:4])} | {' '.join(cells[4:])}")
    sizes = profile.sizes
    ratios = report["p50_ratio"]
    print(
        f"\np50 at {sizes[-1]:,} / p50 at {sizes[0]:,}: "
        f"{ratios['sequential']:.2f} sequential, {ratios['concurrent']:.2f} concurrent "
        "(1.00 = flat)"
    )
    print("latencies in ms, throughput in requests per second")


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="10/1,000/5,000 entries, fewer requests (smoke)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GOODWILL_BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE "
        "(default: GOODWILL_BENCH_DATABASE_URL or %(default)s)",
    )
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    base_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    if not base_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url must be a postgresql:// URL")
    started = time.perf_counter()
    load_before = round(os.getloadavg()[0], 2)
    try:
        with tempfile.TemporaryDirectory(prefix="goodwill-bench-") as workdir:
            report = run(profile, base_url, Path(workdir))
    except Exception as exc:
        traceback.print_exc()
        print(f"\nbenchmark run failed: {exc}", file=sys.stderr)
        return 1
    report = {
        "benchmark": "reciprocity",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": "quick" if args.quick else "full",
        "settings": asdict(profile),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "commit": git_commit(),
        # Other work on the machine shows here; the figures are only as quiet as it was.
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        **report,
        "p50_ratio": {},
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    for phase in ("sequential", "concurrent"):
        report["p50_ratio"][phase] = p50_ratio(report["results"], phase)
    print_table(report, profile)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"reciprocity-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"run took {report['run_seconds']} s; results in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
