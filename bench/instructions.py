"""Instructions per request, in-process: the figure that does not drift.

CPU time on a shared 2-core machine moves by a third from one run to the next
(bench/cpu.py), and the machine's speed itself varies from hour to hour. The number of
instructions a request executes does not: valgrind's callgrind counts them, the same for the
same code within a percent or so. This runs the app in-process (no uvicorn, no wrk: the ASGI
app is called directly, with PostgreSQL on its socket) on the network bench/cpu.py seeded
(run that once first), sends `--requests` requests of each kind after a warm-up, 16 at a
time, and counts only those: callgrind starts with instrumentation off and the harness
switches it on and off around them (`callgrind_control -i`). Framework and server costs that
the hello world shares with Goodwill (uvicorn, httptools) are not in these figures; the
relative change of a request's own work is.

    .venv/bin/python -m bench.instructions get_contact list_page_1 post_ledger
    .venv/bin/python -m bench.instructions --cpu get_contact      # CPU time instead, no valgrind

Needs valgrind (Debian's package), which makes each run about 40 s.
"""

import argparse
import asyncio
import json
import os
import pickle
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import uvloop

from app.core.config import Settings
from app.main import create_app
from bench import run as bench_run
from bench.hello import create_app as hello_app

STATE = bench_run.RESULTS / "cpu-state.pickle"
CONCURRENCY = 16
WARMUP = 200
Request = tuple[str, str, bytes, bytes | None]


def request_makers(gen: Any) -> dict[str, Callable[[random.Random], Request]]:
    owner = gen.large
    ids = [p.id for p in owner.people]
    # An archived contact takes no entries or interactions (409): writes go to listed ones.
    visible = owner.visible_ids
    fixed = owner.fixed

    def ledger_body(rng: random.Random) -> bytes:
        body = {
            "contact_id": rng.choice(visible),
            "direction": "gave",
            "kind": "advice",
            "weight": 2,
        }
        return json.dumps(body).encode()

    return {
        "hello": lambda rng: ("GET", "/", b"", None),
        "get_contact": lambda rng: ("GET", f"/v1/contacts/{rng.choice(ids)}", b"", None),
        "list_page_1": lambda rng: ("GET", "/v1/contacts", b"limit=50", None),
        "introductions_awaiting": lambda rng: (
            "GET",
            "/v1/introductions",
            b"state=awaiting_consent",
            None,
        ),
        "reciprocity": lambda rng: (
            "GET",
            f"/v1/contacts/{fixed[max(fixed)]}/reciprocity",
            b"ask_weight=2",
            None,
        ),
        "post_ledger": lambda rng: ("POST", "/v1/ledger", b"", ledger_body(rng)),
        "post_interaction": lambda rng: (
            "POST",
            f"/v1/contacts/{rng.choice(visible)}/interactions",
            b"",
            b'{"kind": "call"}',
        ),
    }


def _scope(api_key: str, method: str, path: str, query: bytes, body: bytes | None) -> dict:
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {api_key}".encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json")]
        headers += [(b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: Any, api_key: str, request: Request) -> None:
    method, path, query, body = request
    sent: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body or b"", "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the request runs
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await app(_scope(api_key, method, path, query, body), receive, send)
    if not 200 <= sent[0]["status"] < 300:
        raise RuntimeError(f"{method} {path} answered {sent[0]['status']}: {sent[1].get('body')}")


def _callgrind(switch: str) -> None:
    if os.environ.get("GOODWILL_BENCH_CALLGRIND"):
        command = ["callgrind_control", "-i", switch, str(os.getpid())]
        subprocess.run(command, check=True, capture_output=True, timeout=60)


async def child(kind: str, requests: int) -> None:
    url, gen = pickle.loads(STATE.read_bytes())  # noqa: S301 - our own file
    settings = Settings(
        database_url=url,
        rate_limit="1000000000/minute",
        # A key cache that lasts the whole run: valgrind slows requests down 50 times, and a
        # lapsing cache would add lookups a real run makes far less often.
        auth_cache_seconds=3600,
        log_level=os.environ.get("GOODWILL_LOG_LEVEL", "INFO"),
    )
    app = hello_app() if kind == "hello" else create_app(settings)
    make = request_makers(gen)[kind]
    rng = random.Random(7)
    key = gen.large.api_key
    async with app.router.lifespan_context(app):
        for _ in range(WARMUP):
            await _call(app, key, make(rng))

        async def worker(count: int) -> None:
            for _ in range(count):
                await _call(app, key, make(rng))

        _callgrind("on")
        cpu = time.process_time()
        await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
        cpu = time.process_time() - cpu
        _callgrind("off")
    print(f"CPU {1e6 * cpu / requests:.0f} us per request", file=sys.stderr)


def measure(kind: str, requests: int, cpu_only: bool) -> str:
    command = [sys.executable, "-m", "bench.instructions", "--child", kind]
    command += ["--requests", str(requests)]
    env = {**os.environ}
    if not cpu_only:
        out = bench_run.RESULTS / f"callgrind-{kind}.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            *command,
        ]
        env["GOODWILL_BENCH_CALLGRIND"] = "1"
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    if cpu_only:
        return re.findall(r"CPU \d+ us per request", done.stderr)[-1]
    collected = int(re.findall(r"Collected : (\d+)", done.stderr)[-1])
    return f"{collected / requests / 1000:,.0f}k instructions per request"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", default=["hello", "get_contact"])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--cpu", action="store_true", help="CPU time, without valgrind")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        uvloop.run(child(args.child, args.requests))
        return 0
    if not STATE.exists():
        raise SystemExit(f"no seeded network: run `python -m bench.cpu` once first ({STATE})")
    for kind in args.kinds:
        print(f"{kind:<18} {measure(kind, args.requests, args.cpu)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
