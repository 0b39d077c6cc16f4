"""Assigning supervisors from a unit's page (the admin walks the tree to the unit): who follows
it, add a person (by phone number or number in the list of people), remove one. The same rules
as /phancong: admins only, inside their admin subtrees, the person reachable from their scope;
every change audited by `storage.people`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.auth import posted, refused, web_of
from bot.web.fields import FieldProblem, field_text
from storage.access import Scope, admin_scope
from storage.assignments import person_in_scope
from storage.models import CHANNEL_WEB, ROLE_SUPERVISOR, Person, Unit
from storage.people import find_person_by_phone, set_role
from storage.people_import import normalise_phone

OUTCOMES = ("added", "removed", "no_person", "bad_text")
MAX_WANTED = 32  # a phone number or a person's number


async def find_person(
    session: AsyncSession, scope: Scope, wanted: str, *, by_id: bool = False
) -> Person | None:
    """The person typed as a phone number or their number in the list of people, when `scope`
    may act on them (`person_in_scope`); else None."""
    wanted = wanted.strip()
    person: Person | None = None
    try:
        phone = normalise_phone(wanted) if wanted and not by_id else None
    except ValueError:  # not a phone number: maybe the person's number
        phone = None
    if phone is not None:
        person = await find_person_by_phone(session=session, phone=phone)
    if person is None and wanted.isascii() and wanted.isdigit() and len(wanted) < 10:
        person = await session.get(Person, int(wanted))
    if person is None or person.id is None:
        return None
    return await person_in_scope(session=session, person_id=person.id, scope=scope)


async def change(request: Request) -> Response:
    """POST /unit/<id>/assign: `person` (phone or number) to add, or `remove` (a person id)."""
    got = await posted(request)
    if isinstance(got, Response):
        return got
    viewer, form = got
    scope = admin_scope(viewer.scope)
    raw = str(request.path_params.get("unit_id", ""))
    web = web_of(request)
    async with web.db.write() as session:
        unit = await session.get(Unit, int(raw)) if raw.isdigit() and len(raw) < 12 else None
        if unit is None or unit.id is None or not unit.active or not scope.sees(unit):
            return refused(viewer)
        try:
            remove = field_text(form, "remove", limit=MAX_WANTED)
            wanted = field_text(form, "person", limit=MAX_WANTED)
        except FieldProblem:
            return RedirectResponse(f"/unit/{unit.id}?assign=bad_text#assign", status_code=303)
        if remove:
            target = await find_person(session, scope, remove, by_id=True)
        else:
            target = await find_person(session, scope, wanted)
        if target is None or target.id is None:
            outcome = "no_person"
        else:
            await set_role(
                session=session,
                person_id=target.id,
                kind=ROLE_SUPERVISOR,
                unit_id=unit.id,
                held=not remove,
                now=web.clock(),
                actor_person_id=viewer.person_id,
                channel=CHANNEL_WEB,
            )
            outcome = "removed" if remove else "added"
    return RedirectResponse(f"/unit/{unit.id}?assign={outcome}#assign", status_code=303)
