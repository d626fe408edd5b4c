"""The service's own problem answers (servicekit.problems has the generic ones)."""

from __future__ import annotations

from servicekit.problems import Problem


def conflict(slug: str, title: str, detail: str) -> Problem:
    return Problem(409, slug, title, detail)


def unprocessable(slug: str, title: str, detail: str) -> Problem:
    return Problem(422, slug, title, detail)


def application_required(detail: str) -> Problem:
    return conflict("application-required", "Application required", detail)
