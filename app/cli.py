"""The `goodwill` command: serve, worker, migrate, owners, keys, agenda, import, export,
openapi."""

import asyncio
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from app.agenda import service as agenda_service
from app.agenda.schemas import AgendaItem
from app.auth import service as auth
from app.auth.schemas import Scope
from app.core.config import get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.errors import GoodwillError
from app.core.migrations import upgrade
from app.core.pagination import MAX_LIMIT
from app.core.reads import Reader
from app.core.server import serve as run_server
from app.core.signing import load_secret
from app.core.unit_of_work import session_scope
from app.events.worker import run_standalone as run_webhook_worker
from app.main import create_app
from app.portability import client as portability
from app.portability.schemas import ImportFormat
from app.settings.service import get_rules

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


@cli.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit (for cron).")
    ] = False,
) -> None:
    """Deliver webhooks until SIGTERM. Run any number of copies against PostgreSQL; on SQLite
    `goodwill serve` already runs one (GOODWILL_WEBHOOK_WORKER_IN_PROCESS)."""
    settings = get_settings()
    done = asyncio.run(run_webhook_worker(settings, once=once))
    if once:
        typer.echo(f"{done} webhook deliveries and fan-outs done", err=True)


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


def _agenda_day(value: datetime | None) -> date | None:
    # The years GET /v1/agenda accepts for `on`.
    if value is not None and not 1900 <= value.year <= 2999:
        raise typer.BadParameter("must be a date between 1900 and 2999", param_hint="--on")
    return None if value is None else value.date()


@cli.command()
def agenda(
    owner_email: Annotated[str, typer.Option(help="Whose agenda.")],
    on: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="The day (YYYY-MM-DD); default: today in their timezone."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The items as one JSON list, as GET /v1/agenda.")
    ] = False,
) -> None:
    """Print what an owner has to do on a day (GET /v1/agenda, every page), grouped by kind
    most important first, one line an item: for scripts and cron mail-outs."""
    day = _agenda_day(on)

    async def work(session):  # type: ignore[no-untyped-def]
        owner = await auth.get_owner_by_email(session, owner_email)
        rules = await get_rules(session, owner_id=owner.id)
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page, cursor = await agenda_service.agenda(
                Reader(session), owner_id=owner.id, on=day, kinds=(), limit=MAX_LIMIT, cursor=cursor
            )
            items.extend(page)
            if cursor is None:
                return rules.timezone, items

    async def with_secret():  # type: ignore[no-untyped-def]
        # The cursor between pages is signed with the server's secret, as the API's are.
        engine = create_engine(get_settings(), pooled=False)
        try:
            await load_secret(engine)
            async with session_scope(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        timezone, items = asyncio.run(with_secret())
    except GoodwillError as exc:
        _fail(exc.detail)
    # As the API sends them: the response model, in JSON mode.
    data = [AgendaItem.model_validate(item).model_dump(mode="json") for item in items]
    if as_json:
        typer.echo(json.dumps(data))
        return
    zone = ZoneInfo(timezone)
    kind = None
    for item, shown in zip(items, data, strict=True):
        if shown["kind"] != kind:
            kind = shown["kind"]
            count = sum(1 for other in data if other["kind"] == kind)
            typer.echo(("" if item is items[0] else "\n") + f"{kind} ({count})")
        due = item["due_at"].astimezone(zone).date().isoformat()
        typer.echo(f"  {due}  {shown['contact']['display_name']}: {shown['reason']}")


ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="GOODWILL_API_KEY", help="An API key (read-write to import)."),
]
UrlOption = Annotated[
    str, typer.Option("--url", envvar="GOODWILL_URL", help="Where the server is.")
]
ProgressOption = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="A progress bar on stderr (default: on a TTY)."),
]


def _key(api_key: str | None) -> str:
    if not api_key:
        _fail("pass --api-key or set GOODWILL_API_KEY")
    return api_key or ""


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    file_format: Annotated[
        ImportFormat | None, typer.Option("--format", help="Detected from the file if left out.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
    ] = False,
    region: Annotated[
        str | None, typer.Option(help="Country of phone numbers without a country code, e.g. GB.")
    ] = None,
    url: UrlOption = portability.DEFAULT_URL,
    api_key: ApiKeyOption = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=5000, help="Records sent per request.")
    ] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    progress: ProgressOption = None,
) -> None:
    """Import a LinkedIn, Google Contacts or vCard export into a running server."""
    try:
        summary = portability.import_file(
            file,
            url=url,
            api_key=_key(api_key),
            fmt=file_format,
            dry_run=dry_run,
            region=region,
            chunk_size=chunk_size,
            show_progress=sys.stderr.isatty() if progress is None else progress,
        )
    except portability.ClientError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(summary))
        return
    counts = ", ".join(f"{summary[k]} {k}" for k in ("created", "updated", "unchanged", "rejected"))
    typer.echo(f"{file.name} ({summary['format']}): {counts}" + (" (dry run)" if dry_run else ""))
    for row in summary["rows"]:
        # A rejected row is not imported; on any other, the value named was left out.
        outcome = "rejected" if row["status"] == "rejected" else "left out"
        for error in row["errors"]:
            typer.echo(f"  row {row['row']} ({outcome}): {error['field']}: {error['message']}")


@cli.command("export")
def export_data(
    vcard: Annotated[bool, typer.Option("--vcard", help="Contacts as vCard 3.0 instead.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    url: UrlOption = portability.DEFAULT_URL,
    api_key: ApiKeyOption = None,
    progress: ProgressOption = None,
) -> None:
    """Export everything as JSON (or contacts as vCard) from a running server."""
    show = sys.stderr.isatty() if progress is None else progress
    try:
        written = portability.export_to(
            output, url=url, api_key=_key(api_key), vcard=vcard, show_progress=show
        )
    except portability.ClientError as exc:
        _fail(str(exc))
    if output is not None:
        typer.echo(f"{written} bytes written to {output}", err=True)


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
