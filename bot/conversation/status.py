"""/tinhtrang: what each of the reporter's units has reported and still owes, and by when."""

from __future__ import annotations

from bot.conversation.types import Reply, Turn, local_time, row_id
from storage.clock import end_of_day, local_date
from storage.i18n.formatting import date_text, name_in
from storage.reports import (
    unit_deliverables,
    unit_reports,
)
from storage.review import review_required


async def status_reply(turn: Turn, *, done: bool) -> Reply:
    blocks: list[str] = []
    for unit in turn.units:
        items = await unit_deliverables(session=turn.session, unit=unit, now=turn.now)
        lines = [turn.t("conv.status.head", unit=unit.name)]
        if not items:
            lines.append(turn.t("conv.status.none"))
        versions = {
            row.report.id: row.version
            for row in await unit_reports(session=turn.session, unit_id=row_id(unit))
        }
        for item in items:
            name = name_in(item.deliverable, turn.lang)
            tz = item.campaign.timezone
            if item.report is not None:
                local = local_time(item.report.first_confirmed_at, tz)
                on_time = item.report.first_confirmed_at < end_of_day(item.due_date, tz)
                version = versions.get(item.report.id)
                lines.append(
                    turn.t(
                        "conv.status.reported",
                        deliverable=name,
                        number=item.report.id,
                        version=version.version if version is not None else 1,
                        time=local.strftime("%H:%M"),
                        date=date_text(local.date(), turn.lang),
                        timing=turn.t("conv.status.on_time" if on_time else "conv.status.late"),
                    )
                )
                if version is not None and review_required(item.campaign):
                    state = version.review_state
                    lines.append(turn.t(f"review.status.{state}", reason=version.review_reason))
            else:
                days = (local_date(turn.now, tz) - item.due_date).days
                if days > 0:
                    when = turn.t("conv.status.overdue", days=days)
                elif days == 0:
                    when = turn.t("conv.status.due_today")
                else:
                    when = turn.t("conv.status.due_in", days=-days)
                lines.append(
                    turn.t(
                        "conv.status.owed",
                        deliverable=name,
                        due=date_text(item.due_date, turn.lang),
                        when=when,
                    )
                )
        blocks.append("\n".join(lines))
    return Reply("\n\n".join(blocks), done=done)
