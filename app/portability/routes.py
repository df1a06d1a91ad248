from typing import Annotated, Any

from fastapi import Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, StreamingResponse

from app.core.errors import UnprocessableContent
from app.core.principal import CurrentPrincipal, WritePrincipal
from app.core.unit_of_work import SessionDep, api_router
from app.portability import batch, export, service
from app.portability.schemas import (
    BatchResults,
    ContactBatch,
    ExportDocument,
    ImportFormat,
    ImportSummary,
    Region,
)

router = api_router(prefix="/v1", tags=["import and export"])

_FILE = {"type": "string", "format": "binary"}
# The body is the file itself, not JSON, so FastAPI cannot describe it from a parameter. The
# multipart form (field `file`, for HTML forms and `curl -F`) is described in words only:
# schemathesis cannot build valid multipart bodies for the fuzz tests.
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The exported file as the request body, at most 20 MiB and 25,000 records "
        "(GOODWILL_IMPORT_MAX_BODY_BYTES); or a multipart/form-data form with the file in "
        "the field `file`.",
        "content": {
            "text/csv": {"schema": _FILE},
            "text/vcard": {"schema": _FILE},
            "application/octet-stream": {"schema": _FILE},
        },
    }
}


class JSONStream(StreamingResponse):
    media_type = "application/json"


class VCardStream(StreamingResponse):
    media_type = "text/vcard"  # Starlette adds `; charset=utf-8`


async def _uploaded(request: Request) -> bytes:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise UnprocessableContent(
                "Send the file as the multipart field `file`, or as the request body.",
                errors=[{"field": "file", "message": "missing"}],
            )
        return await upload.read()
    return await request.body()


@router.post("/imports", response_model=ImportSummary, openapi_extra=_IMPORT_BODY)
async def import_contacts(
    request: Request,
    principal: WritePrincipal,
    session: SessionDep,
    fmt: Annotated[
        ImportFormat | None,
        Query(alias="format", description="Left out, it is detected from the file."),
    ] = None,
    dry_run: Annotated[
        bool, Query(description="Report what would be created, updated or rejected; write nothing.")
    ] = False,
    region: Annotated[
        Region | None,
        Query(description="Country for phone numbers written without a country code, e.g. GB."),
    ] = None,
) -> ImportSummary:
    """Import a LinkedIn, Google Contacts or vCard export; upserts by external ref, then email."""
    content = await _uploaded(request)
    return await service.import_file(
        session,
        owner_id=principal.owner_id,
        content=content,
        fmt=fmt,
        dry_run=dry_run,
        region=region,
    )


@router.post("/contacts/batch", response_model=BatchResults, tags=["contacts"])
async def batch_upsert_contacts(
    body: ContactBatch, principal: WritePrincipal, session: SessionDep
) -> BatchResults:
    """Upsert up to 500 contacts, each by external reference, then email; every item gets
    its own result, and a bad one never aborts the others."""
    return await batch.upsert_contacts(session, owner_id=principal.owner_id, items=body.items)


@router.get(
    "/export",
    # Documentation only (a JSON body described by a model); the answer is a JSONStream.
    response_class=JSONResponse,
    responses={200: {"model": ExportDocument, "description": "Everything the owner has."}},
)
async def export_everything(request: Request, principal: CurrentPrincipal) -> JSONStream:
    """All of the owner's data as one JSON document, streamed."""
    return JSONStream(
        export.export_json(request.app.state.sessionmaker, principal.owner_id),
        headers={"Content-Disposition": 'attachment; filename="goodwill-export.json"'},
    )


@router.get(
    "/export.vcf",
    response_class=VCardStream,
    responses={200: {"description": "The owner's contacts, archived ones included, as vCard 3.0."}},
)
async def export_vcards(request: Request, principal: CurrentPrincipal) -> VCardStream:
    """The owner's contacts as a vCard file, streamed."""
    return VCardStream(
        export.export_vcards(request.app.state.sessionmaker, principal.owner_id),
        headers={"Content-Disposition": 'attachment; filename="goodwill-contacts.vcf"'},
    )
