"""Reusable input types: integers that fit the database, text that is clean Unicode.

Every request schema and path/query parameter takes its ids, offsets and texts from here, so
bad input is refused at the edge with a 422 that says what to fix, never deep in the database.
"""

from __future__ import annotations

import typing
import unicodedata
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

# The database's INTEGER (PostgreSQL int4; SQLite takes up to 2^63-1, but one limit for both).
MAX_DB_INT = 2**31 - 1

DbId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="An id, 1 to 2147483647.")]
DbIdQuery = Annotated[int, Query(ge=1, le=MAX_DB_INT, description="An id, 1 to 2147483647.")]
DbIdItem = Annotated[int, Field(ge=1, le=MAX_DB_INT)]  # an id inside a list (a form's repeated field)
AfterIdQuery = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Only items with a larger id.")]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="Items to skip, 0 to 2147483647.")]

# Long texts keep line breaks and tabs; one-line fields keep neither.
_MULTILINE_ALLOWED = frozenset("\n\t")


def clean_text(value: str, *, multiline: bool) -> str:
    """NFC-normalised, stripped text; ValueError (a sentence saying what to fix) otherwise.

    Refuses lone surrogates (not Unicode at all: PostgreSQL and UTF-8 cannot store them), NUL
    and every other control character, which no form sends and which hide text from readers.
    """
    for position, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise ValueError(
                f"contains an unpaired surrogate (U+{ord(char):04X}) at position {position}: "
                "send valid Unicode text"
            )
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cc" and char not in allowed:
            kind = "line break" if char == "\n" else "control character"
            raise ValueError(f"contains a {kind} (U+{ord(char):04X}) at position {position}: remove it")
    value = value.strip()
    if value and not any(is_visible(char) for char in value):
        raise ValueError(
            "has no visible characters (only spaces, zero-width or combining marks): write some text"
        )
    return value


def is_visible(char: str) -> bool:
    """Whether a character shows as something: not a space, a format character (zero-width
    space, joiner, direction mark) or a combining mark on its own."""
    return not char.isspace() and unicodedata.category(char) not in ("Cf", "Mn", "Me")


def _clean_line(value: Any) -> Any:
    # Non-strings go on to pydantic's own type check and its message.
    return clean_text(value, multiline=False) if isinstance(value, str) else value


def _clean_long(value: Any) -> Any:
    return clean_text(value, multiline=True) if isinstance(value, str) else value


# Cleaned before the length checks of the field, so "   a   " counts as one character.
CleanLine = Annotated[str, BeforeValidator(_clean_line)]
CleanLongText = Annotated[str, BeforeValidator(_clean_long)]


def _refuse_unstorable(value: Any) -> Any:
    # Passwords are taken as typed (no normalising, no stripping), but must be encodable text.
    if isinstance(value, str):
        for char in value:
            if "\ud800" <= char <= "\udfff" or unicodedata.category(char) == "Cc":
                raise ValueError(f"contains a character that cannot be typed (U+{ord(char):04X}): remove it")
    return value


SecretText = Annotated[str, BeforeValidator(_refuse_unstorable)]


def keyword_key(keyword: str) -> str:
    """Two spellings of one keyword (NFC/NFD, case, inner spaces) share this key."""
    return " ".join(unicodedata.normalize("NFC", keyword).casefold().split())


def _admits_bool(annotation: Any) -> bool:
    """Whether a field's type takes true/false itself (not only as a number pydantic would make of it)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_admits_bool(arg) for arg in typing.get_args(annotation))


class RequestBody(BaseModel):
    """Base of every request body: NaN and Infinity are not numbers a client may send, true and
    false are not numbers either (pydantic would read them as 1 and 0), and a field the body does
    not have is refused (a misspelt or read-only one would otherwise be ignored)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name:
            if not _admits_bool(cls.model_fields[info.field_name].annotation):
                raise ValueError("a number is expected here, not true or false")
        return value
