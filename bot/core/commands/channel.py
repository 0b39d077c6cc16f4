"""/kenh [zalo|telegram|tudong]: where proactive messages go (see `bot.zalo.preference`)."""

from __future__ import annotations

from bot.core.io import Outcome, Say
from bot.core.turn import Turn
from bot.zalo.preference import channel_command


async def channel_choice(turn: Turn) -> Outcome:
    text = await channel_command(
        session=turn.session,
        person_id=turn.person_id,
        args=" ".join(turn.args),
        lang=turn.lang,
        now=turn.now,
        channel=turn.channel,
    )
    return Outcome([Say(text)])
