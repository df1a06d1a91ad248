"""How Goodwill is served. `goodwill serve` and the benchmark's reference app
(bench/hello.py) both go through this one call, so the framework ceiling that `make bench`
compares against is served exactly as Goodwill is: same server, workers, loop and parser."""

import gc

import uvicorn

# Allocations between young-generation collections (CPython's default: 700). A page of
# contacts allocates tens of thousands of objects, so the default collects several times per
# request; every collection of an older generation also walks the whole heap.
GC_YOUNG_THRESHOLD = 20_000


def serve(app: str, *, host: str, port: int, workers: int) -> None:
    """Run `app` (an import string naming an app factory) with uvicorn."""
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # "auto" is uvloop and httptools whenever they are installed, as the lock files
        # install them (uvloop is left out only on Windows, where it does not exist).
        loop="auto",
        http="auto",
        # Goodwill logs each request itself (app/core/middleware.py), without query strings.
        access_log=False,
        log_config=None,
        server_header=False,
    )


def settle_heap() -> None:
    """Called by each worker once its app has started: everything allocated so far (modules,
    the app, SQLAlchemy's and pydantic's schemas) lives as long as the process, so the cyclic
    garbage collector stops walking it (`gc.freeze`), and collects the young generation less
    often. Measured with bench/cpu.py: CPU per page of 50 contacts 4.9 -> 3.5 ms, per GET of
    one contact 1.08 -> 0.92 ms (docs/decisions/2026-11-22-settled-heap.md)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
