"""The framework ceiling: the smallest FastAPI app, served the way `goodwill serve` serves
Goodwill (app/core/server.py), so `make bench` can give Goodwill's throughput as a share of
what FastAPI and uvicorn manage on the same machine, in the same run.

    .venv/bin/python -m bench.hello --port 8001 --workers 2
"""

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.core.server import serve, settle_heap


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settle_heap()  # as Goodwill's workers do
    yield


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"message": "Hello, world"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the hello-world reference app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve("bench.hello:create_app", host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
