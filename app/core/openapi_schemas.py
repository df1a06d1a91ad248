"""What holds of every schema of a kind in the OpenAPI document (app/core/openapi.py): the
bounds that hold of every value of that kind, and the names of enum members."""

import enum
from collections.abc import Iterator
from typing import Any

from app.core.schemas import ID_MAX_LENGTH

# Every timestamp the service answers is written in UTC with at most microseconds:
# `2999-12-31T23:59:59.999999+00:00`. (Those it takes are Timestamp's, which say their own.)
_ANSWERED_TIMESTAMP_MAX_LENGTH = 32
_INT32 = (-(2**31), 2**31 - 1)


def declare_bounds(document: dict[str, Any]) -> None:
    """The bounds that hold of every value of a kind, declared where a schema of that kind
    lacks them: the length of an answered timestamp, the size of integers (`format`, and
    the bounds of a `const`), and the length of a path parameter, which is always an id the
    service gave (any other text names nothing: 404)."""
    for node in _schemas_in(document):
        kind = node.get("type")
        if kind == "string" and node.get("format") == "date-time":
            node.setdefault("maxLength", _ANSWERED_TIMESTAMP_MAX_LENGTH)
        elif kind == "integer":
            if "const" in node:
                node.setdefault("minimum", node["const"])
                node.setdefault("maximum", node["const"])
            low, high = node.get("minimum"), node.get("maximum")
            fits = low is not None and high is not None and _INT32[0] <= low <= high <= _INT32[1]
            node.setdefault("format", "int32" if fits else "int64")
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = schema.get("anyOf", [])
                if parameter.get("in") == "query" and {"type": "null"} in options:
                    # `X | None = None` in Python; in a query string a parameter is left
                    # out, never null.
                    (kept,) = [option for option in options if option != {"type": "null"}]
                    del schema["anyOf"]
                    schema.update(kept)
                if parameter.get("in") == "path" and schema.get("type") == "string":
                    schema.setdefault("maxLength", ID_MAX_LENGTH)
                    parameter.setdefault(
                        "description", "An id the service gave; any other text answers 404."
                    )


def _schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in `node`, depth first: each schema among them."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_in(value)


def name_enum_members(schemas: dict[str, Any]) -> None:
    """`x-enum-varnames`: each enum's member names, so that a generated client calls
    `-created_at` CREATED_AT_DESC rather than something made up from the value."""
    enums = {c.__name__: c for c in _subclasses(enum.Enum) if c.__module__.startswith("app.")}
    for name, schema in schemas.items():
        cls = enums.get(name)
        if "enum" in schema and cls is not None:
            if [member.value for member in cls] != schema["enum"]:
                raise ValueError(f"the schema {name} is not the enum app class {cls.__name__}")
            schema["x-enum-varnames"] = [member.name for member in cls]


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
