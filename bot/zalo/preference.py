"""`/kenh`: which channel proactive messages (reminders, digests, nudges) go to. Written once,
used by both adapters (Telegram and Zalo). Without a choice the outbox sender uses the channel
the person wrote from last (`scheduler.sender`); `/kenh zalo` or `/kenh telegram` fixes it,
`/kenh tudong` goes back to "the last used". A channel the person has no chat on is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.answers import fold
from storage.audit import record
from storage.i18n import t
from storage.models import CHANNEL_TELEGRAM, CHANNEL_ZALO
from storage.people import get_person, identities_of, set_preferred_channel

CHANNEL_WORDS = {
    "zalo": CHANNEL_ZALO,
    "za": CHANNEL_ZALO,
    "telegram": CHANNEL_TELEGRAM,
    "tele": CHANNEL_TELEGRAM,
    "tg": CHANNEL_TELEGRAM,
}
AUTO_WORDS = frozenset({"tudong", "tu dong", "auto", "gan nhat", "macdinh", "mac dinh"})
LABELS = {CHANNEL_ZALO: "Zalo", CHANNEL_TELEGRAM: "Telegram"}


def _current(preferred: str | None, lang: str) -> str:
    if preferred in LABELS:
        return t("zalo.kenh.current", lang, channel=LABELS[preferred])
    return t("zalo.kenh.current_auto", lang)


async def channel_command(
    *,
    session: AsyncSession,
    person_id: int,
    args: str,
    lang: str,
    now: datetime,
    channel: str,
) -> str:
    """Answer `/kenh [zalo|telegram|tudong]` for a known person (`channel`: where it was sent)."""
    person = await get_person(session=session, person_id=person_id)
    assert person is not None
    wanted = fold(args) if len(args) <= 40 else ""
    if not wanted:
        return "\n".join([_current(person.preferred_channel, lang), t("zalo.kenh.usage", lang)])
    if wanted in AUTO_WORDS:
        choice: str | None = None
    elif wanted in CHANNEL_WORDS:
        choice = CHANNEL_WORDS[wanted]
        identities = await identities_of(session=session, person_id=person_id)
        linked = {i.channel for i in identities if i.chat_id}
        if choice not in linked:
            return t("zalo.kenh.not_linked", lang, channel=LABELS[choice])
    else:
        unknown = t("zalo.kenh.unknown", lang, value=args.strip())
        return "\n".join([unknown, t("zalo.kenh.usage", lang)])
    if choice != person.preferred_channel:
        await set_preferred_channel(session=session, person_id=person_id, channel=choice)
        await record(
            session=session,
            now=now,
            channel=channel,
            action="person.preferred_channel",
            entity="person",
            entity_id=person_id,
            actor_person_id=person_id,
            old={"preferred_channel": person.preferred_channel},
            new={"preferred_channel": choice},
        )
    if choice is None:
        return t("zalo.kenh.set_auto", lang)
    return t("zalo.kenh.set", lang, channel=LABELS[choice])
