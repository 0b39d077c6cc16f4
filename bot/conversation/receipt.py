"""The receipt: the secretary's proof of what was recorded (the message they forward).

"Đã ghi nhận báo cáo số N lúc HH:MM ngày d/m/yyyy (phiên bản V)", the deliverable and the unit,
then every recorded figure ("Số đảng viên dự học tập: 28/30" where a rule bounds it by another
answer); a /capnhat receipt lists what changed, old -> new. After it (`evidence_foot`): the
files sent during the form, now attached, and that a photo of the minutes may be sent now."""

from __future__ import annotations

from typing import Any

from bot.conversation.types import Ctx, Turn
from storage.forms import Form, FormField, fields_to_ask, format_answer
from storage.i18n.formatting import name_in


def _bound_of(form: Form, key: str) -> str | None:
    """The field an `lte` rule bounds this one by (attended -> members), if any."""
    for rule in form.rules:
        if rule.lte is not None and rule.lte[0] == key:
            return rule.lte[1]
    return None


def figure(form: Form, item: FormField, answers: dict[str, Any], lang: str) -> str:
    value = answers.get(item.key)
    text = format_answer(item, value, lang)
    bound = _bound_of(form, item.key)
    if value is not None and bound is not None and answers.get(bound) is not None:
        text = f"{text}/{format_answer(form.field(bound), answers[bound], lang)}"
    return text


def change_lines(turn: Turn, ctx: Ctx, answers: dict[str, Any]) -> list[str]:
    """One line per answer that differs from the current version: "label: old -> new"."""
    assert ctx.form is not None
    return [
        turn.t(
            "conv.update.line",
            label=item.label(turn.lang),
            old=format_answer(item, ctx.base.get(item.key), turn.lang),
            new=format_answer(item, answers.get(item.key), turn.lang),
        )
        for item in ctx.form.fields
        if ctx.base.get(item.key) != answers.get(item.key)
    ]


def receipt(
    turn: Turn, ctx: Ctx, answers: dict[str, Any], *, head: str, changed_only: bool = False
) -> str:
    """`head` (the catalog's "recorded/updated" sentence), then the figures, then the foot."""
    assert ctx.form is not None and ctx.deliverable is not None
    form = ctx.form
    name = name_in(ctx.deliverable, turn.lang)
    lines = [head]
    if changed_only:
        lines.append(turn.t("conv.receipt.changed", deliverable=name, unit=ctx.unit.name))
        lines.extend(change_lines(turn, ctx, answers))
    else:
        lines.append(turn.t("conv.receipt.what", deliverable=name, unit=ctx.unit.name))
        lines.extend(
            turn.t(
                "conv.summary.line",
                label=item.label(turn.lang),
                value=figure(form, item, answers, turn.lang),
            )
            for item in fields_to_ask(form, answers)
        )
    lines.append(turn.t("conv.receipt.foot"))
    return "\n".join(lines)


def evidence_foot(turn: Turn, text: str, number: int, attached: int) -> str:
    """The receipt, then the files sent during the form (now the report's evidence), then that
    the reporter may send the photo of the minutes now ("gửi ảnh biên bản")."""
    lines = [text]
    if attached:
        lines.append(turn.t("evidence.receipt.attached", count=attached, number=number))
    lines.append(turn.t("evidence.receipt.invite", number=number))
    return "\n".join(lines)
