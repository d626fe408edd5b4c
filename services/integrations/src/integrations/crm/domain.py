"""CRM contacts' rules, pure: a tenant's field mapping (CRM field name → member field) and
how one contact becomes a row of onboarding's member directory, checked against the
directory's bounds so that a bad contact is refused here, in the CRM's answer, not later.

The member directory (onboarding) is the one truth about members: nothing here keeps a
contact. A contact becomes ``{"external_id", "display_name"?, "profile", "tags"?}``, the
shape of a directory batch row, and travels in ``contacts.received`` events.

Targets of a mapping: ``display_name``, ``tags`` (a list of strings), or a profile key. A
field the mapping does not name is kept under its own name (``unmapped: keep``, the
default, as the directory's CSV import does) or dropped (``unmapped: drop``); a field
mapped to null is always dropped. A field mapped explicitly wins over an unmapped field of
the same name (explicit beats implicit); two fields mapped to one target are refused when
the mapping is saved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# The member directory's bounds (onboarding.directory.service): kept in step by hand, the
# directory checks them again when it applies a contact.
MAX_BATCH = 1000
MAX_PROFILE_KEYS = 50
MAX_PROFILE_BYTES = 8192
MAX_TEXT = 1000
MAX_TAGS = 50
MAX_TAG = 50
MAX_NAME = 200
MAX_FIELDS = 100  # fields of one contact as the CRM sends it
MAX_MAPPED = 200  # entries of a mapping

DISPLAY_NAME = "display_name"
TAGS = "tags"
RESERVED = ("external_id",)  # the contact's key, never a field's target
FIELD_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
_FIELD = re.compile(FIELD_PATTERN)
_BAD_TAG = re.compile(r"[\x00-\x1f\x7f|]")
# One event's contacts, as JSON: well under a broker's default message size (1 MiB).
EVENT_BYTES = 256 * 1024

Unmapped = Literal["keep", "drop"]


@dataclass(frozen=True)
class FieldMapping:
    fields: Mapping[str, str | None] = field(default_factory=dict)
    unmapped: Unmapped = "keep"

    def target(self, name: str) -> str | None:
        if name in self.fields:
            return self.fields[name]
        return name if self.unmapped == "keep" else None


class InvalidContact(ValueError):
    """Why a contact cannot become a member row (a 422 for that contact alone)."""


def mapping_errors(fields: Mapping[str, str | None]) -> list[str]:
    """What is wrong with a mapping (empty: it may be saved)."""
    errors = []
    if len(fields) > MAX_MAPPED:
        errors.append(f"at most {MAX_MAPPED} fields")
    seen: dict[str, str] = {}
    for source, target in fields.items():
        if not _FIELD.fullmatch(source):
            errors.append(f"{source!r}: a field name is 1 to 64 characters of one line")
        if target is None:
            continue
        if not _FIELD.fullmatch(target):
            errors.append(f"{source!r} → {target!r}: a target is 1 to 64 characters of one line")
        elif target in RESERVED:
            errors.append(f"{source!r} → {target!r}: the external id is not a field")
        elif target in seen:
            errors.append(f"{seen[target]!r} and {source!r} both map to {target!r}")
        else:
            seen[target] = source
    return errors


def to_member(
    external_id: str,
    fields: Mapping[str, Any],
    tags: Sequence[str] | None,
    mapping: FieldMapping,
) -> dict[str, Any]:
    """The directory row for one contact, or ``InvalidContact``. ``display_name`` and
    ``tags`` are in the row only when the contact sets them (absent: the member keeps
    theirs); profile values merge, a null removing the key (the directory's upsert)."""
    targets = _targets(fields, mapping)
    row: dict[str, Any] = {"external_id": external_id, "profile": {}}
    for target, (source, value) in targets.items():
        if target == DISPLAY_NAME:
            row[DISPLAY_NAME] = _name(source, value)
        elif target == TAGS:
            if tags is not None:
                raise InvalidContact(f"{source!r} maps to tags, which the contact also gives")
            row[TAGS] = _tags(value, source)
        else:
            row["profile"][target] = _profile_value(source, value)
    if tags is not None:
        row[TAGS] = _tags(list(tags), "tags")
    _check_profile(row["profile"])
    return row


def _targets(fields: Mapping[str, Any], mapping: FieldMapping) -> dict[str, tuple[str, Any]]:
    """target → (the CRM field, its value); explicitly mapped fields first, so that they
    win over an unmapped field of the same name."""
    chosen: dict[str, tuple[str, Any]] = {}
    explicit = [name for name in fields if name in mapping.fields]
    implicit = [name for name in fields if name not in mapping.fields]
    for name in explicit + implicit:
        target = mapping.target(name)
        if target is None or target in chosen:
            continue
        if target in RESERVED:
            raise InvalidContact(f"{name!r}: the external id is not a field")
        chosen[target] = (name, fields[name])
    return chosen


def _name(source: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidContact(f"{source!r} (the display name) must be text")
    name = value.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidContact(f"{source!r} (the display name): 1 to {MAX_NAME} characters")
    return name


def _tags(value: Any, source: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise InvalidContact(f"{source!r} (tags) must be a list of text")
    tags = list(dict.fromkeys(t.strip() for t in value))
    if len(tags) > MAX_TAGS:
        raise InvalidContact(f"{source!r}: at most {MAX_TAGS} tags")
    for tag in tags:
        if not tag or len(tag) > MAX_TAG or _BAD_TAG.search(tag):
            raise InvalidContact(
                f"{source!r}: a tag is 1 to {MAX_TAG} characters, without '|' or control ones"
            )
    return tags


def _profile_value(source: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidContact(f"{source!r}: at most {MAX_TEXT} characters")
        return value
    raise InvalidContact(f"{source!r}: a profile value is text, a number, true/false or null")


def _check_profile(profile: Mapping[str, Any]) -> None:
    if len(profile) > MAX_PROFILE_KEYS:
        raise InvalidContact(f"at most {MAX_PROFILE_KEYS} profile fields")
    if json_size(profile) > MAX_PROFILE_BYTES:
        raise InvalidContact(f"at most {MAX_PROFILE_BYTES} bytes of profile (as JSON)")


def json_size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def chunks(rows: Sequence[dict[str, Any]], max_bytes: int = EVENT_BYTES) -> list[list[Any]]:
    """The rows in order, cut into runs of at most ``max_bytes`` of JSON each (a row larger
    than that goes alone): one event per run, so no message outgrows the broker's limit."""
    runs: list[list[Any]] = []
    size = max_bytes + 1
    for row in rows:
        row_size = json_size(row) + 1
        if size + row_size > max_bytes and (not runs or runs[-1]):
            runs.append([])
            size = 0
        runs[-1].append(row)
        size += row_size
    return runs
