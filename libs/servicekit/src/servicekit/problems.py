"""RFC 9457 problem details for every error; no stack trace ever reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit import tracing
from servicekit.db import sqlstate

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://quanzi.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# Stable `type` slugs for the statuses the framework itself raises.
_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    502: "bad-gateway",
    503: "unavailable",
    504: "upstream-timeout",
}


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def response(self, instance: str | None = None) -> JSONResponse:
        return problem_response(
            self.status,
            self.slug,
            self.title,
            self.detail,
            instance=instance,
            headers=self.headers,
            **self.extensions,
        )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    request_id = tracing.current_request_id.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_problem(status: int, detail: str | None = None, **extensions: Any) -> JSONResponse:
    """A problem for a bare HTTP status, with the stable slug for that status."""
    return problem_response(
        status, _SLUGS.get(status, f"http-{status}"), _phrase(status), detail, **extensions
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> JSONResponse:
        return error.response(instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else None
        response = status_problem(error.status_code, detail, instance=request.url.path)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            # Not JSON at all: a malformed request (400), not invalid fields (422).
            return problem_response(
                400,
                "malformed-json",
                "Malformed JSON",
                "The request body is not valid JSON.",
                instance=request.url.path,
            )
        key_error = _only_idempotency_key(error)
        if key_error == "missing":
            return problem_response(
                400,
                "idempotency-key-required",
                "Idempotency-Key required",
                "This request moves money or points: send a unique Idempotency-Key header.",
                instance=request.url.path,
            )
        if key_error is not None:
            return problem_response(
                400,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                f"the key is printable ASCII, no longer than its documented maximum ({key_error})",
                instance=request.url.path,
            )
        errors = [
            {
                "location": [str(part) for part in item.get("loc", ())],
                "message": item.get("msg", ""),
            }
            for item in error.errors()
        ]
        return problem_response(
            422,
            "validation-error",
            "Request validation failed",
            "One or more fields are invalid.",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, error: DBAPIError) -> JSONResponse:
        if not _is_data_exception(error):
            log.error("database error on %s %s", request.method, request.url.path, exc_info=error)
            return status_problem(500, "An unexpected error occurred; quote the request id.")
        # The database refused a value (NUL in text on PostgreSQL, a number out of range):
        # the client's input, which validation let through. The transaction was rolled
        # back, so nothing was half-written.
        log.warning("database refused a value on %s: %s", request.url.path, error.orig)
        return problem_response(
            422,
            "unstorable-value",
            "Value cannot be stored",
            "a value is out of range or contains characters that cannot be stored",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return status_problem(500, "An unexpected error occurred; quote the request id.")


def _only_idempotency_key(error: RequestValidationError) -> str | None:
    """The kind of the one validation error when it is the ``Idempotency-Key`` header's
    (``missing``, ``string_pattern_mismatch``…): a 400 like every other bad key."""
    items = error.errors()
    if len(items) == 1 and tuple(items[0].get("loc", ())) == ("header", "Idempotency-Key"):
        return str(items[0].get("type", "invalid"))
    return None


def not_found(what: str) -> Problem:
    """404 for an id that does not exist *for this tenant*: never says whether it exists."""
    return Problem(404, "not-found", "Not Found", f"no such {what}")


def _is_data_exception(error: DBAPIError) -> bool:
    """SQLSTATE class 22 ("data exception"), whichever driver reported it."""
    if isinstance(error, DataError):
        return True
    state = sqlstate(error)
    return state is not None and state.startswith("22")


# --- The OpenAPI side: every error documented as what it really is -------------------------

PROBLEM_REF = "#/components/schemas/Problem"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `type` is stable, extensions vary by problem.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Stable problem type"},
        "title": {"type": "string", "description": "Short summary of the problem type"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "This occurrence, in words"},
        "instance": {"type": "string", "description": "The path that answered"},
        "request_id": {"type": "string", "description": "Quote it when reporting a problem"},
        "errors": {
            "type": "array",
            "description": "Each invalid field (validation problems)",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {
                    "location": {"type": "array", "items": {"type": "string"}},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# What each status means when a route answers it without saying more.
_DEFAULT_DESCRIPTIONS = {
    400: "Malformed request: not JSON, a control character in the path or query, "
    "a required header missing",
    401: "No valid credential",
    403: "The credential does not allow this",
    404: "No such resource for this tenant",
    409: "Conflicts with the current state",
    410: "No longer available",
    413: "Request body too large",
    422: "Request validation failed (`errors` lists each field)",
    429: "Rate limited: retry after `Retry-After` seconds",
    502: "An upstream service is unreachable",
    503: "An upstream service is unavailable",
    504: "An upstream service timed out",
}


def problem_responses(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: the problems it answers beyond those every route of its
    kind answers (which ``document_problems`` adds: 400, 422, 413, 401/403, 404)."""
    return {status: {"description": text} for status, text in described.items()}


def document_problems(
    openapi: dict[str, Any], *, every_operation: Iterable[int] = ()
) -> dict[str, Any]:
    """Make the document say what the handlers above really answer (in place, idempotent).

    Every 4xx/5xx is ``application/problem+json`` with the ``Problem`` schema, and each
    operation lists the statuses its kind can answer: 400 always (control characters,
    malformed JSON, missing required headers), 422 with parameters or a body, 413 with a
    body, 401 and 403 when it declares security, 404 when its path names a resource.
    ``every_operation`` adds statuses answered in front of every route (a gateway's 429).
    """
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    extra = tuple(every_operation)
    for item in openapi.get("paths", {}).values():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                _document_operation(operation, shared, extra)
    return openapi


def _document_operation(
    operation: dict[str, Any], shared: list[dict[str, Any]], extra: tuple[int, ...]
) -> None:
    parameters = [*shared, *operation.get("parameters", [])]
    statuses = {400, *extra}
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(413)
    if operation.get("security"):
        statuses.update((401, 403))
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {})
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            responses[code] = _problem_response(int(code), response)
    operation["responses"] = dict(sorted(responses.items()))


def _problem_response(status: int, response: Mapping[str, Any]) -> dict[str, Any]:
    description = response.get("description")
    if not description or description in {"Validation Error", "Additional Response"}:
        description = _DEFAULT_DESCRIPTIONS.get(status) or _phrase(status)
    out = {k: v for k, v in response.items() if k not in {"content", "description"}}
    return {
        "description": description,
        **out,
        "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def _phrase(status: int) -> str:
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
