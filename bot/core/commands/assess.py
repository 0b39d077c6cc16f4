"""/danhgia CODE 1|2: a supervisor's or admin's assessment of a unit's study session
(1 = đạt yêu cầu, 2 = chưa đạt; the words work too), on every channel. Only inside the
person's scope; a unit outside it gets the same answer as a unit that does not exist."""

from __future__ import annotations

from bot.core.commands.common import unit_label, visible_unit
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.answers import fold
from storage.assessments import assess_session
from storage.models import ASSESSMENT_FAILED, ASSESSMENT_PASSED

VERDICTS = {
    "1": ASSESSMENT_PASSED,
    "dat": ASSESSMENT_PASSED,
    "dat yeu cau": ASSESSMENT_PASSED,
    "passed": ASSESSMENT_PASSED,
    "2": ASSESSMENT_FAILED,
    "chua dat": ASSESSMENT_FAILED,
    "not passed": ASSESSMENT_FAILED,
}


async def assess(turn: Turn) -> Outcome:
    if not (turn.scope.is_supervisor or turn.scope.is_admin):
        return Outcome([turn.say("cmd.not_allowed")])
    if len(turn.args) < 2:
        return Outcome([turn.say("assess.usage")])
    code = turn.args[0]
    verdict = VERDICTS.get(fold(" ".join(turn.args[1:])).strip())
    if verdict is None:
        return Outcome([turn.say("assess.usage")])
    found = await visible_unit(turn, code)
    if found is None or found.id is None:
        return Outcome([turn.say("unit.not_visible", code=code)])
    count = await assess_session(
        session=turn.session,
        unit_id=found.id,
        verdict=verdict,
        person_id=turn.person_id,
        channel=turn.channel,
        now=turn.now,
    )
    label = unit_label(found, turn.lang)
    if not count:
        return Outcome([turn.say("assess.no_session", unit=label)])
    key = "assess.passed" if verdict == ASSESSMENT_PASSED else "assess.failed"
    return Outcome([turn.say(key, unit=label)])
