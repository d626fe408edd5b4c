"""Text a service accepts: one rule for every identifier and text field of every service.

Control characters have no business in what members and operators type, and some cannot
be stored at all (PostgreSQL text refuses U+0000; a lone surrogate cannot be encoded as
UTF-8). So, everywhere, the same way:

- ``Line`` (identifiers, names, titles, one-line values): no control character at all
  (U+0000–U+001F, U+007F);
- ``Text`` (descriptions, messages, bodies): line breaks and tabs allowed, no other
  control character;
- ``Body``, the base of every request body: the ``Text`` rule applied to every string
  anywhere in the body (free-form JSON such as profiles and settings included) as a safety
  net behind the typed fields, plus unknown fields refused;
- path and query values: the ``Line`` rule, checked by ``ControlCharacterMiddleware``
  before routing (400 problem+json).

The typed fields carry their rule as a ``pattern`` in the OpenAPI, so clients (and
schemathesis) know it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send
from typing_extensions import TypeAliasType

from servicekit.problems import problem_response

LINE_REFUSED = r"\x00-\x1f\x7f"  # a character-class body
LINE_PATTERN = rf"^[^{LINE_REFUSED}]*$"
TEXT_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # a character-class body
TEXT_PATTERN = rf"^[^{TEXT_REFUSED}]*$"
_NOT_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

Line = Annotated[str, StringConstraints(pattern=LINE_PATTERN)]
Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
NUL_FREE_PATTERN = r"^[^\x00]*$"
NulFree = Annotated[str, StringConstraints(pattern=NUL_FREE_PATTERN)]

# Free-form JSON (profiles, settings, answers) as the document describes it: any JSON whose
# strings follow the rule the body's validator applies, so that the document and the
# validator agree on every value. ``TextJson`` follows ``Body``'s rule (Text values, Line
# keys); ``NulFreeJson`` the bare NUL rule of bodies that refuse only what cannot be stored.
# mypy cannot follow a recursive TypeAliasType yet; pydantic (which reads it) can.
TextJson = TypeAliasType(  # type: ignore[misc]
    "TextJson",
    Union[Text, int, float, bool, list["TextJson"], dict[Line, "TextJson"], None],  # type: ignore[misc]  # noqa: UP007
)
NulFreeJson = TypeAliasType(  # type: ignore[misc]
    "NulFreeJson",
    Union[NulFree, int, float, bool, list["NulFreeJson"], dict[NulFree, "NulFreeJson"], None],  # type: ignore[misc]  # noqa: UP007
)


def forbidden_character(value: object, *, line: bool = False) -> str | None:
    """The first forbidden character in any string of a JSON-like value (keys included),
    as ``U+XXXX``; None when the value is clean."""
    if isinstance(value, str):
        found = (_NOT_LINE if line else _NOT_TEXT).search(value)
        return f"U+{ord(found.group()):04X}" if found else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            bad = forbidden_character(key, line=True) or forbidden_character(item, line=line)
            if bad:
                return bad
    elif isinstance(value, list | tuple):
        for item in value:
            bad = forbidden_character(item, line=line)
            if bad:
                return bad
    return None


class Body(BaseModel):
    """Base of request bodies: unknown fields and control characters refused (422)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        bad = forbidden_character(data)
        if bad:
            raise ValueError(f"text cannot contain the control character {bad}")
        return data


class ControlCharacterMiddleware:
    """400 problem when the path or the query string holds a control character (encoded
    or not): ids and filters are one-line values, and U+0000 would reach the database."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bad = forbidden_character(scope["path"], line=True) or _query_character(
                scope.get("query_string", b"")
            )
            if bad:
                response = problem_response(
                    400,
                    "control-character",
                    "Control character",
                    f"the path or query contains the control character {bad}",
                    instance=scope["path"],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _query_character(query: bytes) -> str | None:
    if not query:
        return None
    decoded = unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8", "replace")
    return forbidden_character(decoded, line=True)


def document_text_rules(openapi: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI what the text rules enforce (in place, idempotent): every string in
    a path or query parameter follows the ``Line`` rule (``ControlCharacterMiddleware``),
    and a mapping with constrained keys refuses the other keys (pydantic validates
    ``dict[Line, X]`` so, but describes it with ``patternProperties``, which would allow
    any other key with any value)."""
    _constrained_keys(openapi)
    for item in openapi.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in {"path", "query"} and "schema" in parameter:
                    _line_strings(parameter["schema"])
    return openapi


def _line_strings(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = LINE_PATTERN
    for branch in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        _line_strings(branch)
    if isinstance(schema.get("items"), dict):
        _line_strings(schema["items"])


def _constrained_keys(node: Any) -> None:
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if node.get("type") == "object" and isinstance(patterns, dict) and len(patterns) == 1:
            [(pattern, values)] = patterns.items()
            del node["patternProperties"]
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
            node["additionalProperties"] = values
        for value in node.values():
            _constrained_keys(value)
    elif isinstance(node, list):
        for value in node:
            _constrained_keys(value)


def strings_follow(pattern: str) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` of a body whose validator applies ``pattern`` to every string
    (a model validator over the whole body): each free string of the model's schema says
    so; strings that already carry a pattern, a format or an enum keep theirs."""

    def add_pattern(schema: dict[str, Any]) -> None:
        for field in schema.get("properties", {}).values():
            _pattern_strings(field, pattern)

    return add_pattern


def _pattern_strings(schema: dict[str, Any], pattern: str) -> None:
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = pattern
    for branch in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        _pattern_strings(branch, pattern)
    for nested in ("items", "additionalProperties"):
        if isinstance(schema.get(nested), dict):
            _pattern_strings(schema[nested], pattern)
    for values in schema.get("patternProperties", {}).values():
        _pattern_strings(values, pattern)


# What ``str.strip()`` removes (``str.isspace``), spelled out: JSON Schema's ``\s`` (ECMA)
# and the validators' differ on U+001C–U+001F and U+0085.
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE_CHARS = [chr(n) for n in range(0x3001) if chr(n).isspace()]


def _spaces_outside(refused: str) -> str:
    """``_SPACE`` without the characters ``refused`` matches, as a character-class body."""
    kept = [c for c in _SPACE_CHARS if not re.match(f"[{refused}]", c)]
    return "".join(c if c == " " else f"\\u{ord(c):04x}" for c in kept)


def visible_text(min_length: int, max_length: int) -> StringConstraints:
    """``Text`` (tabs and line breaks allowed) holding at least one visible character: what
    a person must read, such as a rejection's reason. Kept as sent; its pattern says what
    the check ``value.strip() != ""`` accepts, with the whitespace spelled out."""
    return StringConstraints(
        min_length=min_length,
        max_length=max_length,
        pattern=rf"^[^{TEXT_REFUSED}]*[^{TEXT_REFUSED}{_SPACE}][^{TEXT_REFUSED}]*$",
    )


def trimmed(min_length: int, max_length: int, *, refused: str = TEXT_REFUSED) -> StringConstraints:
    """A string trimmed of surrounding whitespace, then checked: 1 to ``max_length``
    characters (``min_length`` 0: may be empty) none of which is in ``refused`` (a regex
    character-class body; by default the ``Text`` rule). For fields of a ``Body``, whose rule
    refuses control characters anywhere: its pattern, checked on the trimmed value, is
    written for the value as sent, so that the document says exactly what passes: blanks
    the body's rule allows around a core that starts and ends with a visible character (a
    blank-only value is empty once trimmed)."""
    core = rf"[^{refused}{_SPACE}]([^{refused}]*[^{refused}{_SPACE}])?"
    if min_length == 0:
        core = f"({core})?"
    blanks = _spaces_outside(TEXT_REFUSED)
    return StringConstraints(
        strip_whitespace=True,
        min_length=min_length,
        max_length=max_length,
        pattern=rf"^[{blanks}]*{core}[{blanks}]*$",
    )
