"""/web: a one-time link into the web console (`bot.web`), valid 10 minutes, for this person.

The link is made by a job after the turn's commit (`bot.core.jobs`), so the stored replies of
the update never hold a usable token (only its hash is ever on disk); a replay makes a new
link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.io import Job, Outcome
from bot.core.turn import Output, Runtime, Turn
from bot.web.links import WebConsoleOff, create_web_link
from storage.i18n import t
from storage.messages import OutgoingMessage
from storage.organisation import organisation_name
from storage.web_auth import TooManyLinks


async def web(turn: Turn) -> Outcome:
    if not turn.runtime.settings.web_url:
        return Outcome([turn.say("web.command.off")])
    return Outcome(jobs=[Job("web", {})])


async def link_job(
    runtime: Runtime, params: dict[str, Any], person_id: int | None, lang: str, at: datetime
) -> list[Output]:
    """The link itself, made now (not at the turn's time: a replay must not send a dead link)."""
    assert person_id is not None
    try:
        async with runtime.db.write() as session:
            url = await create_web_link(
                session=session,
                person_id=person_id,
                now=runtime.clock(),
                base_url=runtime.settings.web_url,
            )
    except WebConsoleOff:
        off = t("web.command.off", lang, organisation=organisation_name(runtime.settings, lang))
        return [OutgoingMessage(text=off)]
    except TooManyLinks:
        return [OutgoingMessage(text=t("web.command.too_many", lang))]
    return [OutgoingMessage(text=t("web.command.link", lang, url=url))]
