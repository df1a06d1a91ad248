"""Import 10,000 contacts and export 100,000, with time and the server's peak memory.

    .venv/bin/python bench/portability.py [--quick] [--database-url postgresql://...]

On the local PostgreSQL (GOODWILL_BENCH_DATABASE_URL, by default
postgresql://postgres@127.0.0.1:5432/test): a fresh database is created next to that one,
migrated, used, and dropped at the end, also when the run fails. Only 127.0.0.1 is used. The
whole run is cut off after --budget seconds (default 900). See bench/README.md.
"""

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
GOODWILL = str(Path(sys.executable).with_name("goodwill"))
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
LINKEDIN_HEADER = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position"]
FIRST = ["Ada", "Grace", "Alan", "Katherine", "Mei", "Chidi", "Zoë", "Jürgen", "Ayşe", "Sofia"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Chen", "Okafor", "Brontë", "Müller", "Rossi"]
COMPANIES = ["Analytical Engines Ltd", "Stripe, Inc.", "Siemens AG", "Paystack", "Acme Widgets"]


class RunFailed(Exception):
    pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the server and its memory -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak resident set since the process started), in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


@contextmanager
def serving(database_url: str, workdir: Path, name: str):
    """`goodwill serve` with one worker on a free port; yields (base URL, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "GOODWILL_DATABASE_URL": database_url,
        "GOODWILL_RATE_LIMIT": "1000000000/minute",
        "GOODWILL_LOG_LEVEL": "WARNING",
    }
    env.pop("GOODWILL_REDIS_URL", None)
    log_path = workdir / f"{name}.log"
    with log_path.open("w") as out:
        process = subprocess.Popen(
            [GOODWILL, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RunFailed(f"server exited:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RunFailed("server not ready after 30 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class Memory:
    """The server's resident set: at the start, sampled every 50 ms, and VmHWM at the end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start_kib = proc_status(pid)["VmRSS"]
        self.peak_kib = self.start_kib
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak_kib = max(self.peak_kib, proc_status(self.pid)["VmRSS"])
            except OSError:
                return

    def __enter__(self) -> "Memory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.hwm_kib = proc_status(self.pid)["VmHWM"]

    def report(self) -> dict[str, float]:
        return {
            "rss_before_mib": round(self.start_kib / 1024, 1),
            "rss_peak_sampled_mib": round(self.peak_kib / 1024, 1),
            "vm_hwm_mib": round(self.hwm_kib / 1024, 1),
            "growth_mib": round((self.hwm_kib - self.start_kib) / 1024, 1),
        }


# --- the database ---------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(database_url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOODWILL_DATABASE_URL": database_url}
    result = subprocess.run(
        [GOODWILL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RunFailed(f"goodwill {' '.join(args[:2])} failed:\n{result.stderr[-2000:]}")
    return result


def new_owner(database_url: str, label: str) -> dict[str, str]:
    email = f"{label}-{secrets.token_hex(3)}@bench.example"
    return json.loads(run(database_url, "owners", "create", "--email", email, "--json").stdout)


async def seed_contacts(database_url: str, owner_id: str, count: int, seed: int) -> float:
    """`count` contacts (and one interaction and one ledger entry for every tenth) by COPY,
    as the import would have made them; seconds taken."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now = datetime.now(UTC)
    contacts, interactions, entries = [], [], []
    for n in range(count):
        contact_id = f"ct_bench{owner_id[-8:]}{n:010d}"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        channels = [
            {"type": "email", "value": f"p{n}@example.com", "permitted_uses": []},
            {"type": "phone", "value": f"+4420794{n % 100000:05d}", "permitted_uses": []},
            {
                "type": "linkedin",
                "value": f"https://www.linkedin.com/in/p-{n}",
                "permitted_uses": [],
            },
        ]
        at = now - timedelta(minutes=count - n)
        contacts.append(
            (
                owner_id,
                contact_id,
                f"{first} {last}",
                first,
                last,
                rng.choice(COMPANIES),
                "Engineer",
                "acquaintance",
                json.dumps(["bench"]),
                json.dumps(channels),
                json.dumps({"linkedin": channels[2]["value"]}),
                f"{first} {last} p{n}@example.com".lower(),
                ",",
                1,
                at,
                at,
            )
        )
        if n % 10 == 0:
            interactions.append(
                (owner_id, f"int_bench{n:012d}", contact_id, "call", at, "Caught up.", "me", at)
            )
            entries.append(
                (owner_id, f"le_bench{n:012d}", contact_id, "gave", "advice", 1, at, None, at)
            )
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "contact",
                records=contacts,
                columns=[
                    "owner_id",
                    "id",
                    "display_name",
                    "given_name",
                    "family_name",
                    "organization",
                    "title",
                    "trust_stage",
                    "tags",
                    "channels",
                    "external_refs",
                    "search_text",
                    "channel_uses",
                    "version",
                    "created_at",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "interaction",
                records=interactions,
                columns=[
                    "owner_id",
                    "id",
                    "contact_id",
                    "kind",
                    "occurred_at",
                    "summary",
                    "initiated_by",
                    "created_at",
                ],
            )
            await conn.copy_records_to_table(
                "ledger_entry",
                records=entries,
                columns=[
                    "owner_id",
                    "id",
                    "contact_id",
                    "direction",
                    "kind",
                    "weight",
                    "occurred_at",
                    "note",
                    "created_at",
                ],
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


# --- the phases -----------------------------------------------------------------------------


def linkedin_file(path: Path, count: int, seed: int) -> None:
    """A Connections.csv as LinkedIn writes it: notes, a blank line, the header, the rows."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write('Notes:\r\n"When exporting your connection data, you may notice ..."\r\n\r\n')
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*LINKEDIN_HEADER, "Connected On"])
    for n in range(count):
        email = f"c{n}@example.com" if rng.random() < 0.3 else ""
        writer.writerow(
            [
                rng.choice(FIRST),
                rng.choice(LAST),
                f"https://www.linkedin.com/in/conn-{n}-{rng.randrange(16**6):06x}",
                email,
                rng.choice(COMPANIES),
                "Engineer",
                "10 Dec 2023",
            ]
        )
    path.write_text(out.getvalue(), encoding="utf-8")


def cli_import(base: str, key: str, path: Path, pid: int, chunk: int) -> dict[str, Any]:
    with Memory(pid) as memory:
        started = time.perf_counter()
        result = subprocess.run(
            [
                GOODWILL,
                "import",
                str(path),
                "--url",
                base,
                "--api-key",
                key,
                "--json",
                "--no-progress",
                "--chunk-size",
                str(chunk),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RunFailed(f"goodwill import failed:\n{result.stderr[-2000:]}")
    summary = json.loads(result.stdout)
    counts = {k: summary[k] for k in ("created", "updated", "unchanged", "rejected")}
    rows = sum(counts.values())
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        **counts,
        **memory.report(),
    }


def timed_export(base: str, key: str, path: str, pid: int, expect: int) -> dict[str, Any]:
    with Memory(pid) as memory:
        started = time.perf_counter()
        first_byte = None
        chunks = 0
        body = bytearray()
        with httpx.stream(
            "GET",
            base + path,
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(300, connect=10),
        ) as response:
            if response.status_code != 200:
                raise RunFailed(f"GET {path}: {response.status_code}")
            for chunk in response.iter_raw():
                first_byte = first_byte or time.perf_counter() - started
                chunks += 1
                body += chunk
        seconds = time.perf_counter() - started
    if path.endswith(".vcf"):
        found = body.count(b"BEGIN:VCARD")
    else:
        found = len(orjson.loads(body)["contacts"])
    if found != expect:
        raise RunFailed(f"GET {path} held {found} contacts, not {expect}")
    return {
        "contacts": found,
        "seconds": round(seconds, 2),
        "first_byte_ms": round((first_byte or 0) * 1000, 1),
        "mib": round(len(body) / 2**20, 1),
        "contacts_per_second": round(found / seconds),
        "reads": chunks,
        **memory.report(),
    }


def _out_of_time(*_: object) -> None:
    raise RunFailed("out of time (--budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GOODWILL_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--quick", action="store_true", help="1,000 imported, 10,000 exported")
    parser.add_argument("--budget", type=float, default=900, help="seconds before giving up")
    args = parser.parse_args()
    imported = 1_000 if args.quick else 10_000
    exported = 10_000 if args.quick else 100_000
    small = exported // 10
    name = f"goodwill_bench_portability_{secrets.token_hex(4)}"
    admin_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    database_url = with_database(admin_url, name)
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(int(args.budget))  # raises RunFailed in here; the database is still dropped
    asyncio.run(admin(admin_url, f'CREATE DATABASE "{name}"'))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": "postgresql (local)",
    }
    started = time.perf_counter()
    try:
        run(database_url, "migrate")
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            importer = new_owner(database_url, "importer")
            source = workdir / "Connections.csv"
            linkedin_file(source, imported, seed=1)
            log(f"importing {imported:,} LinkedIn connections ...")
            with serving(database_url, workdir, "import") as (base, pid):
                first = cli_import(base, importer["api_key"], source, pid, 500)
                log(f"  first import: {first}")
                again = cli_import(base, importer["api_key"], source, pid, 500)
                log(f"  re-import:    {again}")
            if first["created"] != imported or again["unchanged"] != imported:
                raise RunFailed("the import did not create, then leave unchanged, every row")
            results["import"] = {"first": first, "again": again}

            small_owner = new_owner(database_url, "small")
            big_owner = new_owner(database_url, "big")
            log(f"seeding {small:,} and {exported:,} contacts by COPY ...")
            seeded = asyncio.run(seed_contacts(database_url, small_owner["owner_id"], small, 2))
            seeded += asyncio.run(seed_contacts(database_url, big_owner["owner_id"], exported, 3))
            results["seed_seconds"] = round(seeded, 1)
            exports: dict[str, Any] = {}
            owners = (("small", small_owner, small), ("big", big_owner, exported))
            for label, owner, count in owners:
                for path in ("/v1/export", "/v1/export.vcf"):
                    # A fresh server per export, so that VmHWM is this export's peak alone.
                    with serving(database_url, workdir, f"export-{label}") as (base, pid):
                        figures = timed_export(base, owner["api_key"], path, pid, count)
                    exports[f"{path} {count}"] = figures
                    log(f"  GET {path} ({count:,} contacts): {figures}")
            results["export"] = exports
    finally:
        asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        signal.alarm(0)
    results["run_seconds"] = round(time.perf_counter() - started, 1)
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"portability-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results in {out.relative_to(ROOT)}")


def print_table(results: dict[str, Any]) -> None:
    print("\nimport (goodwill import, LinkedIn CSV, chunks of 500)")
    print("                 rows   seconds   rows/s   server RSS before / peak (VmHWM) MiB")
    for label, row in results["import"].items():
        print(
            f"  {label:<10} {row['rows']:>8,} {row['seconds']:>9} {row['rows_per_second']:>8,}"
            f"   {row['rss_before_mib']:>6} / {row['vm_hwm_mib']}"
        )
    print("\nexport (streamed, one fresh server each)")
    print("                        contacts  seconds  first byte ms   MiB   RSS before / peak")
    for label, row in results["export"].items():
        path = label.split()[0]
        print(
            f"  {path:<18} {row['contacts']:>10,} {row['seconds']:>8} {row['first_byte_ms']:>14}"
            f" {row['mib']:>6}   {row['rss_before_mib']:>6} / {row['vm_hwm_mib']}"
        )
    print(f"\nrun took {results['run_seconds']} s")


if __name__ == "__main__":
    try:
        main()
    except RunFailed as exc:
        log(f"benchmark failed: {exc}")
        sys.exit(1)
