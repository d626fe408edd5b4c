"""RFC 9457 problem details for every error; no stack trace ever reaches a client."""

from __future__ import annotations

import logging
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
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return problem_response(
        status, _SLUGS.get(status, f"http-{status}"), phrase, detail, **extensions
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
        if _only_missing_idempotency_key(error):
            return problem_response(
                400,
                "idempotency-key-required",
                "Idempotency-Key required",
                "This request moves money or points: send a unique Idempotency-Key header.",
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


def _only_missing_idempotency_key(error: RequestValidationError) -> bool:
    """The one validation error is a required ``Idempotency-Key`` header left out."""
    items = error.errors()
    return len(items) == 1 and (
        items[0].get("type") == "missing"
        and tuple(items[0].get("loc", ())) == ("header", "Idempotency-Key")
    )


def not_found(what: str) -> Problem:
    """404 for an id that does not exist *for this tenant*: never says whether it exists."""
    return Problem(404, "not-found", "Not Found", f"no such {what}")


def _is_data_exception(error: DBAPIError) -> bool:
    """SQLSTATE class 22 ("data exception"), whichever driver reported it."""
    if isinstance(error, DataError):
        return True
    state = sqlstate(error)
    return state is not None and state.startswith("22")
