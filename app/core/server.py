"""How Goodwill is served. `goodwill serve` and the benchmark's reference app
(bench/hello.py) both go through this one call, so the framework ceiling that `make bench`
compares against is served exactly as Goodwill is: same server, workers, loop and parser."""

import uvicorn


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
