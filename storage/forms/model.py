"""A form's declaration: typed fields, conditions (`when`), cross-field rules."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storage.models import MEASURES

# Largest whole number a measure column can hold (32-bit INTEGER on PostgreSQL).
INT_CEILING = 2_147_483_647
# Typed answers longer than this (for anything but text) are not an answer.
MAX_TYPED = 64
# Anything longer is refused before any work is done on it.
MAX_INPUT = 10_000


class FieldType(StrEnum):
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    TEXT = "text"
    CHOICE = "choice"


# The type each ReportVersion measure column holds.
MEASURE_TYPES: dict[str, FieldType] = {
    "session_date": FieldType.DATE,
    "duration_halfdays": FieldType.INT,
    "members": FieldType.INT,
    "attended": FieldType.INT,
    "nonmembers_attended": FieldType.INT,
    "essays": FieldType.INT,
    "action_program": FieldType.BOOL,
    "action_program_date": FieldType.DATE,
    "heads_with_plan": FieldType.INT,
    "heads": FieldType.INT,
    "presenter_standing": FieldType.CHOICE,
}
assert set(MEASURE_TYPES) == set(MEASURES), "MEASURE_TYPES must cover storage.models.MEASURES"

# Where a default may come from (attribute of the unit being reported on).
DEFAULT_SOURCES = ("unit.members",)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Choice(BaseModel):
    model_config = _FROZEN

    value: str = Field(min_length=1, max_length=64)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_vi


class When(BaseModel):
    """Ask the field only if an earlier field's answer equals `equals`."""

    model_config = _FROZEN

    field: str
    equals: bool | int | str


class FormField(BaseModel):
    model_config = _FROZEN

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    type: FieldType
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    prompt_vi: str = Field(min_length=1)
    prompt_en: str = Field(min_length=1)
    # Said after the prompt when a new report is filled in, not in /capnhat ("you can update it
    # later with /capnhat" would be out of place there).
    hint_vi: str | None = Field(default=None, min_length=1)
    hint_en: str | None = Field(default=None, min_length=1)
    required: bool = True
    min: int | None = None
    max: int | None = None
    max_length: int = Field(default=200, ge=1, le=4000)
    choices: tuple[Choice, ...] = ()
    # "name": a person's name (letters; not a number, not "không"); "document_number": a
    # document's number as written on it ("05-CTr/ĐU").
    text_kind: Literal["name", "document_number"] | None = None
    default_from: Literal["unit.members"] | None = None
    measure: str | None = None
    when: When | None = None

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_vi

    def prompt(self, lang: str, *, hint: bool = True) -> str:
        """The question; with its hint (if any) unless `hint=False`."""
        text = self.prompt_en if lang == "en" else self.prompt_vi
        extra = (self.hint_en or self.hint_vi) if lang == "en" else self.hint_vi
        return f"{text} {extra}" if hint and extra else text


class Rule(BaseModel):
    """One cross-field rule; exactly one kind is set.

    - `lte: [a, b]`: answer a <= answer b (skipped while either is missing).
    - `date_in_campaign: a`: campaign start <= answer a <= campaign end (or today if no end).
    `message` optionally names another catalog key (same placeholders as the default one)."""

    model_config = _FROZEN

    lte: tuple[str, str] | None = None
    date_in_campaign: str | None = None
    message: str | None = None

    @property
    def kind(self) -> str:
        return "lte" if self.lte is not None else "date_in_campaign"

    @property
    def fields(self) -> tuple[str, ...]:
        if self.lte is not None:
            return self.lte
        return (self.date_in_campaign,) if self.date_in_campaign else ()

    @property
    def message_key(self) -> str:
        return self.message or f"form.rule.{self.kind}"


class Form(BaseModel):
    model_config = _FROZEN

    fields: tuple[FormField, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()

    def field(self, key: str) -> FormField:
        for item in self.fields:
            if item.key == key:
                return item
        raise KeyError(key)

    def keys(self) -> list[str]:
        return [item.key for item in self.fields]

    def document_fields(self) -> list[FormField]:
        """The fields that hold a document's number: no measure column, kept in the answers
        and shown beside the figures (/donvi, the workbook's units sheet)."""
        return [item for item in self.fields if item.text_kind == "document_number"]

    def name_fields(self) -> list[FormField]:
        """The fields that hold a person's name (the session's presenter): no measure column,
        read from the counted version's answers beside the figures (/donvi, the units sheet)."""
        return [item for item in self.fields if item.text_kind == "name"]
