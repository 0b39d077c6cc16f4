"""/phancong PERSON_ID CODE [CODE ...]: the person follows these units (supervisor role);
/phancong bo PERSON_ID CODE: no longer. Admins only, inside their admin subtrees; every grant
and revocation is audited by `storage.people` (the channel it was asked on)."""

from __future__ import annotations

from bot.core.commands.common import not_found, refusal, unit_in, unit_label
from bot.core.io import Outcome
from bot.core.turn import Turn
from storage.access import admin_scope
from storage.assignments import followed_units, person_in_scope
from storage.models import ROLE_SUPERVISOR, Unit
from storage.people import set_role

REMOVE_WORDS = {"bo", "bỏ", "xoa", "xóa", "xoá", "remove"}


async def assign(turn: Turn) -> Outcome:
    scope = admin_scope(turn.scope)
    if not scope.is_admin:
        return refusal(turn)
    args = list(turn.args)
    removing = bool(args) and args[0].lower() in REMOVE_WORDS
    if removing:
        args = args[1:]
    if len(args) < 2 or not args[0].isdigit() or (removing and len(args) != 2):
        return Outcome([turn.say("admin.assign.usage")])
    person = await person_in_scope(session=turn.session, person_id=int(args[0]), scope=scope)
    if person is None or person.id is None:
        return Outcome([turn.say("admin.assign.no_person", person=args[0])])
    units: list[Unit] = []
    for code in args[1:]:
        unit = await unit_in(turn, scope, code)
        if unit is None:
            return not_found(turn, code)
        units.append(unit)
    changed = [
        await set_role(
            session=turn.session,
            person_id=person.id,
            kind=ROLE_SUPERVISOR,
            unit_id=unit.id,
            held=not removing,
            now=turn.now,
            actor_person_id=turn.person_id,
            channel=turn.channel,
        )
        for unit in units
    ]
    if removing:
        key = "admin.assign.removed" if changed[0] else "admin.assign.not_following"
        label = unit_label(units[0], turn.lang)
        return Outcome([turn.say(key, name=person.full_name, unit=label)])
    followed = [
        unit_label(u, turn.lang)
        for u in await followed_units(session=turn.session, person_id=person.id)
        if scope.sees(u)
    ]
    if not followed:
        return Outcome([turn.say("admin.assign.none", name=person.full_name, person=person.id)])
    return Outcome(
        [
            turn.say(
                "admin.assign.done",
                name=person.full_name,
                person=person.id,
                units="; ".join(followed),
            )
        ]
    )
