"""The API's one error body, its place in the OpenAPI schema, and the handlers that send it.

Every 4xx and 5xx of the JSON API is `{"detail": "<what to fix>", "errors": [...]}`: `detail`
for people, `errors` (one entry per invalid field, empty otherwise) for programs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.core.errors import DomainError


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "title"].')
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="A stable code for programs, e.g. string_too_short.")


class ErrorBody(BaseModel):
    detail: str = Field(description="One or more sentences that say what to fix.")
    errors: list[ErrorItem] = Field(default_factory=list, description="One entry per invalid field.")


# FastAPI's words for a body it cannot decode (e.g. not UTF-8); replaced by what to do about it.
FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"

_DESCRIPTIONS = {
    400: "The request cannot be carried out as sent",
    401: "Not logged in, or the session has ended: log in again",
    403: "Logged in, but not allowed to do this",
    404: "No such object, or not one you may see",
    409: "Conflicts with the current state (e.g. already exists or already answered)",
    413: "The request body is too large",
    422: "Invalid input: `detail` says what to fix, `errors` lists each field",
    429: "Too many attempts: wait for Retry-After seconds",
    503: "Temporarily unavailable (database or Redis): retry after Retry-After seconds",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for routers and routes: each code documented with the one error body."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def error_response(
    status_code: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"detail": _printable(detail), "errors": errors or []}
    return JSONResponse(body, status_code=status_code, headers=headers)


def validation_items(errors: Any) -> list[dict[str, Any]]:
    """pydantic's errors as plain JSON: the offending input is left out (it may be NaN, bytes,
    an unpaired surrogate or 1 MB long) and every string is made encodable."""
    items = []
    for error in errors:
        loc = [part if isinstance(part, int) else _printable(str(part)) for part in error.get("loc", ())]
        # "Value error, must be in the future" reads better without pydantic's prefix.
        msg = _printable(str(error.get("msg", ""))).removeprefix("Value error, ")
        items.append({"loc": loc, "msg": msg, "type": str(error.get("type"))})
    return items


def validation_detail(items: list[dict[str, Any]]) -> str:
    problems = []
    for item in items:
        where = ".".join(str(part) for part in item["loc"] if part not in ("body", "query", "path", "header"))
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "Invalid input. " + "; ".join(problems) + "."


async def on_domain_error(_: Request, exc: DomainError) -> JSONResponse:
    return error_response(exc.status_code, exc.message, headers=getattr(exc, "headers", None))


async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    items = validation_items(exc.errors())
    return error_response(422, validation_detail(items), items)


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Starlette's own refusals (unknown path, wrong method, a streamed body past the limit).
    detail = exc.detail if isinstance(exc.detail, str) else "The request cannot be carried out as sent."
    if exc.status_code == 400 and detail == FASTAPI_UNPARSABLE_BODY:
        detail = "The request body could not be read: send JSON (or a form) encoded as UTF-8."
    elif exc.status_code == 404 and detail == "Not Found":
        detail = "No such address: check the URL against the API's schema at /openapi.json."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed here: the schema at /openapi.json lists the methods."
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


def body_too_large_message(max_body_size: int) -> str:
    return (
        f"The request body is larger than {max_body_size:,} bytes: send a smaller one "
        "(shorter texts, fewer keywords)."
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]


def use_error_body_for_validation(app: FastAPI) -> None:
    """FastAPI documents 422 as its own HTTPValidationError; ours is ErrorBody, so say so."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                response = operation.get("responses", {}).get("422")
                if response and "HTTPValidationError" in str(response.get("content")):
                    operation["responses"]["422"] = {
                        "description": _DESCRIPTIONS[422],
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                        },
                    }
        if "ErrorBody" not in components:
            components.update(_error_body_components())
        for name in ("HTTPValidationError", "ValidationError"):
            if name not in str({k: v for k, v in schema.items() if k != "components"}):
                components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_body_components() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {"ErrorBody": schema, **definitions}


def _printable(text: str) -> str:
    # An unpaired surrogate echoed from the input would make the UTF-8 response itself fail.
    return text.encode("utf-8", "replace").decode("utf-8")
