"""Request fields the features' APIs share: bounded text, external ids, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

# PostgreSQL refuses NUL in text: refused here, it is a 422 rather than a 500.
# Ids and names are one line; free text may have line breaks.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"


def text_field(min_length: int, max_length: int, pattern: str = NO_NUL) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
    )


Reason = Annotated[str, text_field(1, 500)]
Note = Annotated[str, text_field(0, 500)]
ExternalId = Annotated[str, text_field(1, 200, ONE_LINE)]
Name = Annotated[str, text_field(1, 200, ONE_LINE)]
Description = Annotated[str, text_field(0, 2000)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # e.g. 9999-12-31T23:00-05:00: a 422, not a 500
        raise ValueError("timestamp out of range") from error


# Naive timestamps are refused (whose midnight?); the database stores UTC.
Timestamp = Annotated[AwareDatetime, AfterValidator(_utc)]
