"""The servers `make bench` loads and the wrk runs that load them, on 127.0.0.1 only."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
GOODWILL = str(Path(sys.executable).with_name("goodwill"))
GRANIAN = str(Path(sys.executable).with_name("granian"))
LUA = ROOT / "bench" / "wrk" / "rotate.lua"
READY_SECONDS = 60
# Far above anything wrk can send here: the limiter still runs on every request, as it does
# in production, but never answers 429.
RATE_LIMIT = "1000000000/minute"


class RunFailed(Exception):
    """The benchmark could not measure what it set out to (not: it was slow)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    workers: int
    port: int
    process: subprocess.Popen
    log: Path
    ready_path: str
    http: str = "uvicorn"  # or "granian"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The worker processes: with uvicorn, the server itself with one worker, its
        children (spawned by multiprocessing) with more; with Granian, always its children."""
        if self.workers == 1 and self.http == "uvicorn":
            return [self.process.pid]
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == self.process.pid and b"resource_tracker" not in cmdline:
                children.append(int(entry.name))
        return sorted(children)

    def libraries(self) -> dict[str, bool]:
        """Whether the workers really run on uvloop, and on httptools (uvicorn's "auto") or
        Granian's own Rust HTTP stack."""
        maps = ""
        for pid in self.worker_pids():
            try:
                maps += Path(f"/proc/{pid}/maps").read_text()
            except OSError:
                pass
        parser = "httptools" if self.http == "uvicorn" else "_granian"
        return {"uvloop": "uvloop" in maps, parser: parser in maps}

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _granian(factory: str, port: int, workers: int) -> list[str]:
    """Granian serving the same app factory as uvicorn does in app/core/server.py: its ASGI
    interface, uvloop, no access log (Goodwill logs each request itself), failed workers
    started again. For comparing the two servers in one run (`--compare-servers`)."""
    return [
        GRANIAN,
        "--interface", "asgi", "--factory", "--loop", "uvloop", "--http", "1",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--respawn-failed-workers",
        factory,
    ]  # fmt: skip


def start(
    name: str,
    workers: int,
    workdir: Path,
    *,
    database_url: str | None = None,
    http: str = "uvicorn",
) -> Server:
    port = free_port()
    log = workdir / f"{name}-{workers}-{http}.log"
    env = {**os.environ}
    if database_url is None:
        factory = "bench.hello:create_app"
        command = [sys.executable, "-m", "bench.hello", "--port", str(port)]
        ready = "/"
    else:
        factory = "app.main:create_app"
        # The Dockerfile's command line: `goodwill serve --host --port --workers`.
        command = [GOODWILL, "serve", "--host", "127.0.0.1", "--port", str(port)]
        env.update(GOODWILL_DATABASE_URL=database_url, GOODWILL_RATE_LIMIT=RATE_LIMIT)
        # In-process rate limiting, as in the container without Redis.
        env.pop("GOODWILL_REDIS_URL", None)
        ready = "/readyz"
    command += ["--workers", str(workers)]
    if http == "granian":
        command = _granian(factory, port, workers)
    with log.open("w") as out:  # a file, not a pipe that could fill up: every request is logged
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, workers, port, process, log, ready, http)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RunFailed(
                f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if httpx.get(server.base + server.ready_path, timeout=2).status_code == 200:
                if len(server.worker_pids()) >= server.workers:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RunFailed(f"{server.name} was not ready after {READY_SECONDS} s:\n{server.log_tail()}")


def stop(server: Server) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """The largest resident set of each worker while a run goes on, sampled every 0.2 s."""

    def __init__(self, pids: list[int]) -> None:
        self.peak = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.peak:
                self.peak[pid] = max(self.peak[pid], _rss_kib(pid))
            self._stop.wait(0.2)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak_mb(self) -> list[float]:
        return [round(kib / 1024, 1) for kib in self.peak.values()]


def wrk(server: Server, data: Path, *, threads: int, connections: int, seconds: int) -> dict:
    """One wrk run; its summary as the Lua `done` hook prints it, plus each worker's peak RSS."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        server.base,
        "--",
        str(data),
    ]
    with RssSampler(server.worker_pids()) as rss:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RunFailed(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RunFailed(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    seconds_run = result["duration_us"] / 1e6
    errors = result["errors"]
    return {
        "rps": round(result["requests"] / seconds_run, 1),
        "p50_ms": result["latency_us"]["p50"] / 1000,
        "p99_ms": result["latency_us"]["p99"] / 1000,
        "max_ms": result["latency_us"]["max"] / 1000,
        "requests": result["requests"],
        "ok": result["ok"],
        "not_2xx": result["not_2xx"],
        # wrk's own `status` count (answers >= 400) is already in not_2xx.
        "socket_errors": sum(v for k, v in errors.items() if k != "status"),
        "errors": errors,
        "rss_mb": rss.peak_mb(),
    }


def lua_string(text: str) -> str:
    """A Lua string literal (long brackets: nothing inside is an escape)."""
    level = "=" * 3
    if f"]{level}]" in text:
        raise ValueError("text closes the Lua long bracket")
    return f"[{level}[{text}]{level}]"


def write_requests(
    path: Path,
    *,
    method: str,
    api_key: str | None,
    paths: list[str],
    bodies: list[dict] | None = None,
) -> Path:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    lines = ["return {", f"  method = {lua_string(method)},", "  headers = {"]
    # "[ [" with a space: "[[" would open a long string.
    lines += [f"    [ {lua_string(k)} ] = {lua_string(v)}," for k, v in headers.items()]
    lines += ["  },", "  paths = {"]
    lines += [f"    {lua_string(p)}," for p in paths]
    lines.append("  },")
    if bodies is not None:
        lines.append("  bodies = {")
        lines += [f"    {lua_string(json.dumps(b))}," for b in bodies]
        lines.append("  },")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    return path
