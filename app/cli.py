"""The `goodwill` command: serve, migrate, owners, keys, openapi."""

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.auth import service as auth
from app.auth.schemas import Scope
from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.errors import GoodwillError
from app.core.migrations import upgrade
from app.core.server import serve as run_server
from app.main import create_app

cli = typer.Typer(
    help="Goodwill: relationship-first networking as a REST service.",
    no_args_is_help=True,
    add_completion=False,
)
owners_cli = typer.Typer(
    help="Owners: the people whose networks Goodwill keeps.", no_args_is_help=True
)
keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)
cli.add_typer(owners_cli, name="owners")
cli.add_typer(keys_cli, name="keys")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


async def _with_session(work):  # type: ignore[no-untyped-def]
    engine = create_engine(get_settings(), pooled=False)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    upgrade()
    typer.echo("database is at the latest migration")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(envvar="GOODWILL_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="GOODWILL_PORT")] = 8000,
    workers: Annotated[int, typer.Option(envvar="GOODWILL_WORKERS", min=1)] = 1,
) -> None:
    """Serve the API (run `goodwill migrate` first)."""
    typer.echo(
        f"Goodwill on http://{host}:{port} (API docs at /docs).\n"
        "No API key yet? In another terminal, from the project folder, run:\n"
        "  .venv/bin/goodwill owners create --email you@example.com\n"
        "(`goodwill owners create ...` where goodwill is on the PATH, as in the container)\n"
        "and send the key it prints as `Authorization: Bearer <key>`.",
        err=True,
    )
    run_server("app.main:create_app", host=host, port=port, workers=workers)


@owners_cli.command("create")
def create_owner(
    email: Annotated[str, typer.Option(help="The owner's email; unique.")],
    name: Annotated[str | None, typer.Option(help="The owner's name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Create an owner and a read-write API key, shown once."""

    async def work(session):  # type: ignore[no-untyped-def]
        owner = await auth.create_owner(session, email=email, name=name)
        key = await auth.create_api_key(
            session, owner_id=owner.id, name="cli", scopes=[Scope.read, Scope.write]
        )
        return owner, key

    try:
        owner, key = asyncio.run(_with_session(work))
    except GoodwillError as exc:
        _fail(exc.detail)
    if as_json:
        typer.echo(json.dumps({"owner_id": owner.id, "api_key": key.api_key}))
    else:
        typer.echo(f"owner {owner.id} ({owner.email})\napi key (shown once): {key.api_key}")


@keys_cli.command("create")
def create_key(
    owner_email: Annotated[str, typer.Option(help="The owner the key belongs to.")],
    scope: Annotated[
        list[Scope] | None, typer.Option(help="read or write; repeat for both (default both).")
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Add an API key to an owner; the secret is shown once."""
    scopes = scope or [Scope.read, Scope.write]

    async def work(session):  # type: ignore[no-untyped-def]
        owner = await auth.get_owner_by_email(session, owner_email)
        return owner, await auth.create_api_key(
            session, owner_id=owner.id, name=name, scopes=scopes
        )

    try:
        owner, key = asyncio.run(_with_session(work))
    except GoodwillError as exc:
        _fail(exc.detail)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "owner_id": owner.id,
                    "key_id": key.id,
                    "api_key": key.api_key,
                    "scopes": [s.value for s in key.scopes],
                }
            )
        )
    else:
        typer.echo(f"key {key.id} {','.join(key.scopes)} (shown once): {key.api_key}")


@cli.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Print the OpenAPI document generated from the app."""
    text = json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def main() -> None:
    cli()
