"""PostgreSQL restarted under a write load: no acknowledged write is lost, none is written
twice, and clients hear 2xx or 503 (with Retry-After), never a 500 or a dropped connection
(API.md, Conventions).

`goodwill serve --workers 2` on a fresh, migrated database takes POST /v1/ledger from a few
concurrent clients, each request with an Idempotency-Key of its own and that key as its note;
PostgreSQL is restarted (`pg_ctl restart -m fast`, as an operator or a failover would) while
they write. Then every key not yet acknowledged is retried with the same key and body. Checked:

- during the load, every answer was a 2xx or a 503 problem with Retry-After;
- every 2xx's entry is in the database;
- writes succeeded again within RECOVERY_SECONDS of PostgreSQL accepting connections;
- after the retries every key is acknowledged, and the database holds exactly one entry per
  key: nothing unacknowledged, nothing twice.

It never touches the PostgreSQL other tests use: it makes a throwaway cluster of its own
(initdb into a temporary folder, as the postgres user when run as root; trust authentication
on 127.0.0.1 only; a free port), restarts that one, and removes it at the end, failure or
not. Traffic goes to 127.0.0.1 only. About half a minute; `make fault-test`, and .ci/run.

    .venv/bin/python -m tests.fault.postgres_restart
"""

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from tests.servers import GOODWILL, create_owner, free_port, goodwill_env, run_cli

PG_BIN = Path(os.environ.get("GOODWILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
WORKERS = 2
CLIENTS = 4
# The load is bounded twice: it stops RECOVERY_SECONDS + 1 after PostgreSQL is back (so that
# the recovery can be judged), and in any case after MAX_REQUESTS or MAX_LOAD_SECONDS.
MAX_REQUESTS = 20_000
MAX_LOAD_SECONDS = 40
RESTART_AFTER_SECONDS = 3
RECOVERY_SECONDS = 5
REQUEST_TIMEOUT_SECONDS = 10
RETRY_ROUNDS = 10
READY_SECONDS = 30


class FaultTestFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise FaultTestFailed(message)


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/goodwill"

    def pg_ctl(self, *args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args]
        _run_as_postgres(command)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def _run_as_postgres(command: list[str]) -> None:
    # PostgreSQL refuses to run as root; as anyone else it runs as that user.
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)  # noqa: S603


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="goodwill-fault-"))
    cluster = Cluster(root / "data", free_port(), root / "postgres.log")
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        _run_as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust"]
        )
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{root}'\n"
            )
        cluster.pg_ctl("-w", "-t", "30", "start")
        started = True
        yield cluster
    finally:
        if started:
            try:
                cluster.pg_ctl("-w", "-m", "immediate", "stop")
            except subprocess.SubprocessError as exc:
                print(f"could not stop the throwaway cluster: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Attempt:
    key: str
    started: float
    ended: float
    outcome: int | str  # a status code, or the name of the transport error
    retry_after: str | None = None
    content_type: str | None = None
    entry_id: str | None = None

    @property
    def acknowledged(self) -> bool:
        return isinstance(self.outcome, int) and 200 <= self.outcome < 300


class Load:
    def __init__(self, client: httpx.AsyncClient, api_key: str, contact_id: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.contact_id = contact_id
        self.numbers = itertools.count()
        self.attempts: list[Attempt] = []
        self.stop = asyncio.Event()

    async def post(self, key: str) -> Attempt:
        body = {
            "contact_id": self.contact_id,
            "direction": "gave",
            "kind": "advice",
            "weight": 1,
            "note": key,
        }
        started = time.monotonic()
        try:
            response = await self.client.post(
                "/v1/ledger", json=body, headers={**self.headers, "Idempotency-Key": key}
            )
        except httpx.HTTPError as exc:
            return Attempt(key, started, time.monotonic(), type(exc).__name__)
        attempt = Attempt(
            key,
            started,
            time.monotonic(),
            response.status_code,
            response.headers.get("retry-after"),
            response.headers.get("content-type"),
        )
        if attempt.acknowledged:
            attempt.entry_id = response.json()["id"]
        return attempt

    async def writer(self, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline:
            number = next(self.numbers)
            if number >= MAX_REQUESTS:
                return
            self.attempts.append(await self.post(f"fault-{number:06d}"))


async def _restart(cluster: Cluster, load: Load) -> tuple[float, float]:
    """Restart PostgreSQL while the load runs; when it was asked to, and when it accepted
    connections again (`pg_ctl -w` returns then)."""
    await asyncio.sleep(RESTART_AFTER_SECONDS)
    asked = time.monotonic()
    await asyncio.to_thread(cluster.pg_ctl, "-w", "-t", "30", "-m", "fast", "restart")
    accepting = time.monotonic()
    await asyncio.sleep(RECOVERY_SECONDS + 1)
    load.stop.set()
    return asked, accepting


async def _retry(load: Load, keys: list[str]) -> dict[str, Attempt]:
    """Each key again, same key and body, until acknowledged."""
    final: dict[str, Attempt] = {}
    pending = keys
    for _ in range(RETRY_ROUNDS):
        if not pending:
            break
        attempts = await asyncio.gather(*(load.post(key) for key in pending))
        final.update({a.key: a for a in attempts})
        pending = [a.key for a in attempts if not a.acknowledged]
        if pending:
            await asyncio.sleep(1)
    return final


async def _rows(cluster: Cluster, owner_id: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(cluster.url)
    try:
        return await connection.fetch(
            "SELECT id, note FROM ledger_entry WHERE owner_id = $1", owner_id
        )
    finally:
        await connection.close()


def _prepare(cluster: Cluster) -> dict[str, str]:
    """A fresh database, migrated, with an owner: {"owner_id", "api_key"}."""

    async def create_database() -> None:
        connection = await asyncpg.connect(cluster.url.rpartition("/")[0] + "/postgres")
        try:
            await connection.execute("CREATE DATABASE goodwill")
        finally:
            await connection.close()

    asyncio.run(create_database())
    migrated = run_cli(cluster.url, "migrate")
    check(migrated.returncode == 0, f"goodwill migrate failed:\n{migrated.stderr}")
    return create_owner(cluster.url, "fault@example.com")


def _create_contact(base: str, api_key: str) -> str:
    contact = httpx.post(
        f"{base}/v1/contacts",
        json={"display_name": "Fault Test"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    check(contact.status_code == 201, f"creating the contact: {contact.status_code}")
    return contact.json()["id"]


@contextmanager
def serving(cluster: Cluster, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [GOODWILL, "serve", "--port", str(port), "--workers", str(WORKERS)],
            env=goodwill_env(cluster.url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _workers_started(log: Path) -> int:
    return log.read_text(errors="replace").count("Application startup complete.")


def _wait_ready(base: str, log: Path) -> None:
    """Both workers serving: one answering /readyz is not enough, the other may still be
    starting (and would start in the middle of the restart)."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and _workers_started(log) >= WORKERS:
            return
        time.sleep(0.2)
    raise FaultTestFailed(f"{base} not ready after {READY_SECONDS} s")


async def _load_and_restart(cluster: Cluster, base: str, owner: dict, contact_id: str) -> str:
    limits = httpx.Limits(max_connections=CLIENTS * 2)
    async with httpx.AsyncClient(
        base_url=base, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        load = Load(client, owner["api_key"], contact_id)
        deadline = time.monotonic() + MAX_LOAD_SECONDS
        restart = asyncio.create_task(_restart(cluster, load))
        await asyncio.gather(*(load.writer(deadline) for _ in range(CLIENTS)))
        check(restart.done(), f"the load ended before the restart had (after {MAX_REQUESTS})")
        asked, accepting = restart.result()
        attempts = load.attempts
        failed = sorted({a.key for a in attempts if not a.acknowledged})
        retried = await _retry(load, failed)
        # A few acknowledged keys again: their original answer, not a second entry.
        replayed = await _retry(load, [a.key for a in attempts if a.acknowledged][:20])
    rows = await _rows(cluster, owner["owner_id"])
    return _judge(attempts, retried, replayed, rows, asked, accepting)


def _judge(
    attempts: list[Attempt],
    retried: dict[str, Attempt],
    replayed: dict[str, Attempt],
    rows: list[asyncpg.Record],
    asked: float,
    accepting: float,
) -> str:
    outcomes = Counter(a.outcome for a in attempts)
    unavailable = [a for a in attempts if a.outcome == 503]
    summary = (
        f"{len(attempts)} requests: "
        + ", ".join(f"{n} x {outcome}" for outcome, n in sorted(outcomes.items(), key=str))
        + f"; restart took {accepting - asked:.2f} s"
    )
    check(
        all(a.acknowledged or a.outcome == 503 for a in attempts),
        f"answers other than 2xx and 503 during the restart: {summary}",
    )
    check(all(a.retry_after in ("1", "2") for a in unavailable), "a 503 without Retry-After 1-2")
    check(
        all(a.content_type == "application/problem+json" for a in unavailable),
        "a 503 that is not a problem",
    )
    check(bool(unavailable), f"no request met the restart, so nothing was tested: {summary}")
    # Recovery: nothing but 2xx for requests sent from RECOVERY_SECONDS after PostgreSQL
    # accepted connections, and the last 503 answered within that time.
    last_failure = max(a.ended for a in unavailable)
    recovery = max(0.0, last_failure - accepting)
    later = [a for a in attempts if a.started >= accepting + RECOVERY_SECONDS]
    check(bool(later), "the load ended too soon after the restart to judge the recovery")
    check(
        recovery <= RECOVERY_SECONDS and all(a.acknowledged for a in later),
        f"writes failed {recovery:.2f} s after PostgreSQL accepted connections",
    )
    first_success = min(
        (a.ended for a in attempts if a.acknowledged and a.started >= accepting), default=None
    )
    entries = {row["id"]: row["note"] for row in rows}
    for attempt in attempts:
        if attempt.acknowledged:
            check(
                entries.get(attempt.entry_id or "") == attempt.key,
                f"acknowledged entry {attempt.entry_id} ({attempt.key}) is not in the database",
            )
    check(all(a.acknowledged for a in retried.values()), "a retry was never acknowledged")
    originals = {a.key: a.entry_id for a in attempts if a.acknowledged}
    check(
        all(a.outcome == 201 and a.entry_id == originals[a.key] for a in replayed.values()),
        "an acknowledged key's retry was not answered as the original",
    )
    keys = {a.key for a in attempts}
    notes = Counter(entries.values())
    doubled = [note for note, n in notes.items() if n > 1]
    check(not doubled, f"written twice: {doubled[:5]}")
    check(set(notes) == keys, f"rows without an acknowledged key: {sorted(set(notes) - keys)[:5]}")
    back = "never" if first_success is None else f"{first_success - accepting:.2f} s"
    return (
        f"{summary}; 503s from {min(a.started for a in unavailable) - asked:+.2f} s to "
        f"{last_failure - asked:+.2f} s of the restart; writes back {back} after PostgreSQL "
        f"accepted connections (last 503 at {recovery:+.2f} s); {len(retried)} keys retried, "
        f"all acknowledged; {len(rows)} entries for {len(keys)} keys, none twice"
    )


def _server_log(path: Path) -> str:
    """The server's log but its access lines (one a request): what went wrong, if anything."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    kept = [line for line in lines if '"message":"request"' not in line]
    return "\n".join(kept[-60:])


def main() -> int:
    # A CI timeout sends SIGTERM: the cluster is still removed.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    started = time.monotonic()
    keep_logs = os.environ.get("GOODWILL_FAULT_LOGS")  # a folder to copy both logs to
    with throwaway_cluster() as cluster:
        server_log = cluster.log.with_name("server.log")
        try:
            owner = _prepare(cluster)
            with serving(cluster, server_log) as base:
                _wait_ready(base, server_log)
                contact_id = _create_contact(base, owner["api_key"])
                report = asyncio.run(_load_and_restart(cluster, base, owner, contact_id))
                # uvicorn replaces a worker that dies; none may have.
                workers = _workers_started(server_log)
                check(workers == WORKERS, f"{workers - WORKERS} workers were restarted")
        except FaultTestFailed as exc:
            print(f"FAULT TEST FAILED: {exc}", file=sys.stderr)
            print(f"--- server log\n{_server_log(server_log)}", file=sys.stderr)
            print(f"--- PostgreSQL log (tail)\n{cluster.log_tail()}", file=sys.stderr)
            return 1
        finally:
            if keep_logs:
                Path(keep_logs).mkdir(parents=True, exist_ok=True)
                for log in (server_log, cluster.log):
                    shutil.copy(log, Path(keep_logs) / log.name)
    print(f"fault test passed in {time.monotonic() - started:.0f} s: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
