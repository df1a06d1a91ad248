"""`goodwill import` and `goodwill export`: a script's client of a running server.

An import is sent in chunks of a few hundred records, each a file of the same format on its
own, so that the progress bar follows work the server has done (not bytes sent), a chunk
stays far below the upload limit, and a retry re-sends one chunk. Each chunk carries an
Idempotency-Key made of this run's id and the chunk's number: a retry after a lost answer
gets the original summary instead of importing twice. Importing the same file again later
is safe anyway: records already there come back `unchanged`.
"""

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from app.portability import formats
from app.portability.schemas import ImportFormat

DEFAULT_URL = "http://127.0.0.1:8000"
ATTEMPTS = 4
_RETRY_STATUSES = {429, 502, 503, 504}
_COUNTS = ("created", "updated", "unchanged", "rejected")
_CONTENT_TYPES = {
    ImportFormat.vcard: "text/vcard; charset=utf-8",
    ImportFormat.linkedin_csv: "text/csv; charset=utf-8",
    ImportFormat.google_csv: "text/csv; charset=utf-8",
}


class ClientError(Exception):
    pass


def _client(url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {api_key}", "User-Agent": "goodwill-cli"},
        # A chunk of a few hundred records takes seconds; an export streams for minutes
        # but never pauses long between pages.
        timeout=httpx.Timeout(120.0, connect=10.0),
    )


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") or body.get("title") or ""
    errors = "; ".join(f"{e['field']}: {e['message']}" for e in body.get("errors") or [])
    return f"HTTP {response.status_code}: {detail}" + (f" ({errors})" if errors else "")


def _post(http: httpx.Client, **request: Any) -> httpx.Response:
    """POST with retries on connection errors, 429 and 502-504 (bounded; backoff)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = http.post("/v1/imports", **request)
        except httpx.TransportError as exc:
            if attempt == ATTEMPTS:
                raise ClientError(f"cannot reach the server: {exc}") from exc
            time.sleep(2 ** (attempt - 1))
            continue
        if response.status_code in _RETRY_STATUSES and attempt < ATTEMPTS:
            retry_after = response.headers.get("retry-after", "")
            wait = int(retry_after) if retry_after.isdigit() else 2 ** (attempt - 1)
            time.sleep(min(wait, 60))
            continue
        return response
    raise AssertionError("unreachable")


def _progress(show: bool, *columns: Any) -> Progress:
    return Progress(*columns, console=Console(stderr=True), disable=not show, transient=False)


def import_file(
    path: Path,
    *,
    url: str,
    api_key: str,
    fmt: ImportFormat | None,
    dry_run: bool,
    region: str | None,
    chunk_size: int,
    show_progress: bool,
) -> dict[str, Any]:
    """Import `path` chunk by chunk; the summary of the whole file, rows numbered as in it."""
    text = formats.decode(path.read_bytes())
    try:
        fmt = fmt or formats.detect(text)
        chunks = formats.split(text, fmt, chunk_size)
    except formats.UnreadableFile as exc:
        raise ClientError(str(exc)) from None
    summary: dict[str, Any] = {"format": fmt.value, "dry_run": dry_run, "rows": []}
    summary.update(dict.fromkeys(_COUNTS, 0))
    params = {"format": fmt.value, "dry_run": str(dry_run).lower()}
    if region:
        params["region"] = region
    run = uuid.uuid4().hex
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with _client(url, api_key) as http, _progress(show_progress, *columns) as progress:
        task = progress.add_task("import", total=sum(count for _, count, _ in chunks))
        for number, (before, count, chunk) in enumerate(chunks):
            response = _post(
                http,
                content=chunk.encode(),
                params=params,
                headers={
                    "Content-Type": _CONTENT_TYPES[fmt],
                    "Idempotency-Key": f"goodwill-import-{run}-{number}",
                },
            )
            if response.status_code != 200:
                done = "" if number == 0 else f" after {before} records were imported"
                raise ClientError(_problem(response) + done)
            part = response.json()
            for name in _COUNTS:
                summary[name] += part[name]
            for row in part["rows"]:
                summary["rows"].append({**row, "row": row["row"] + before})
            progress.advance(task, count)
    return summary


def export_to(
    output: Path | None, *, url: str, api_key: str, vcard: bool, show_progress: bool
) -> int:
    """Stream the export to `output` (whole or not at all) or stdout; the bytes written."""
    if output is None:
        return _download(sys.stdout.buffer, url, api_key, vcard, show_progress)
    output = output.resolve()
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(handle, "wb") as target:
            written = _download(target, url, api_key, vcard, show_progress)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


def _download(target: BinaryIO, url: str, api_key: str, vcard: bool, show: bool) -> int:
    path = "/v1/export.vcf" if vcard else "/v1/export"
    columns = (SpinnerColumn(), TextColumn("exporting"), DownloadColumn(), TransferSpeedColumn())
    written = 0
    try:
        with (
            _client(url, api_key) as http,
            http.stream("GET", path) as response,
            _progress(show, *columns) as progress,
        ):
            if response.status_code != 200:
                response.read()
                raise ClientError(_problem(response))
            task = progress.add_task("export", total=None)
            for chunk in response.iter_bytes():
                target.write(chunk)
                written += len(chunk)
                progress.update(task, completed=written)
    except httpx.HTTPError as exc:
        # Includes a stream cut off half-way: the file is then not kept.
        raise ClientError(f"the export did not complete: {exc}") from exc
    return written
