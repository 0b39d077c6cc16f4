"""Assigning supervisors by picking units in the tree (the desk, admins): pick a person the
admin may act on (phone number or number in the list of people, or one of the supervisors
already inside the scope), tick the units they follow in the admin's subtree (collapsible by
level, the ones they follow already ticked), save: every grant and revocation in one
transaction through `storage.assignments.set_followed_units`. The same rules as /phancong, on
the server: a unit id outside the admin's subtrees (a forged form) refuses the whole save."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.assign import MAX_WANTED, find_person
from bot.web.auth import Viewer, admin_viewer, posted, web_of
from bot.web.fields import FieldProblem, field_text
from bot.web.render import message, page
from storage.access import Scope, admin_scope
from storage.assignments import (
    followed_units,
    person_in_scope,
    set_followed_units,
    supervisors_to_pick,
    units_by_ids,
)
from storage.models import CHANNEL_WEB, Person, Unit
from storage.tree import depth_of, is_within
from storage.web_views import units_for_invites

# Units one page shows (deeper levels open from their parent: `?under=`); keeps the page light.
MAX_SHOWN = 400
OPEN_DEPTH = 1  # levels shown unfolded below the page's top units
URL = "/desk/assign"


@dataclass
class Node:
    unit: Unit
    followed: bool
    children: list[Node] = field(default_factory=list)
    inside: int = 0  # followed units below this one (shown when folded)
    more: bool = False  # has children not shown on this page
    open: bool = False


def _number(raw: object) -> int | None:
    text = raw if isinstance(raw, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def _cut(units: list[Unit]) -> tuple[list[Unit], int | None]:
    """The units down to the deepest level that fits MAX_SHOWN, and that level (None: all)."""
    if len(units) <= MAX_SHOWN:
        return units, None
    per_depth = Counter(depth_of(u.path) for u in units)
    total, last = 0, min(per_depth)
    for depth in sorted(per_depth):
        if total + per_depth[depth] > MAX_SHOWN:
            break
        total, last = total + per_depth[depth], depth
    return [u for u in units if depth_of(u.path) <= last][:MAX_SHOWN], last


def _forest(units: list[Unit], followed: set[int]) -> list[Node]:
    shown, last = _cut(units)
    nodes = {u.id: Node(u, u.id in followed) for u in shown}
    top_depth = min((depth_of(u.path) for u in shown), default=0)
    roots: list[Node] = []
    for node in nodes.values():
        node.open = depth_of(node.unit.path) - top_depth < OPEN_DEPTH
        parent = nodes.get(node.unit.parent_id)
        (parent.children if parent is not None else roots).append(node)
    paths = [u.path for u in units if u.id in followed]
    for node in nodes.values():
        node.inside = sum(1 for p in paths if p != node.unit.path and is_within(p, node.unit.path))
    if last is not None:
        with_children = {u.parent_id for u in units if depth_of(u.path) == last + 1}
        for node in nodes.values():
            node.more = depth_of(node.unit.path) == last and node.unit.id in with_children
    return roots


async def _under(session: AsyncSession, scope: Scope, raw: object) -> Unit | None:
    unit_id = _number(raw)
    unit = await session.get(Unit, unit_id) if unit_id is not None else None
    return unit if unit is not None and unit.active and scope.sees(unit) else None


async def assign_page(request: Request) -> Response:
    """GET /desk/assign[?who=<phone or number>][&under=<unit id>][&saved=<added>-<removed>]."""
    viewer = await admin_viewer(request)
    if isinstance(viewer, Response):
        return viewer
    scope = admin_scope(viewer.scope)
    who = request.query_params.get("who", "")[:MAX_WANTED]
    saved = request.query_params.get("saved", "").split("-")
    context: dict[str, Any] = {"viewer": viewer, "who": who, "person": None, "forest": []}
    if len(saved) == 2 and all(_number(s) is not None for s in saved):
        context["saved"] = {"added": int(saved[0]), "removed": int(saved[1])}
    async with web_of(request).db.read() as session:
        context["known"] = await supervisors_to_pick(session=session, scope=scope)
        if not who:
            return page("assign_tree.html", viewer.lang, **context)
        person = await find_person(session, scope, who)
        if person is None or person.id is None:
            return page("assign_tree.html", viewer.lang, status=404, missing=True, **context)
        under = await _under(session, scope, request.query_params.get("under"))
        units = await units_for_invites(session=session, scope=scope, level=None, root=under)
        followed = {u.id for u in await followed_units(session=session, person_id=person.id)}
    forest = _forest(units, {i for i in followed if i is not None})
    shown = [n.unit.id for n in _walk(forest)]
    return page(
        "assign_tree.html",
        viewer.lang,
        **{
            **context,
            "person": person,
            "under": under,
            "forest": forest,
            "shown": ",".join(str(i) for i in shown),
        },
    )


def _walk(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node.children))
    return out


def _ids(form: FormData) -> tuple[list[int], list[int]] | None:
    """(ticked, shown) unit ids, or None for anything that is not a list of unit numbers."""
    try:
        shown_text = field_text(form, "shown", limit=MAX_SHOWN * 13)
    except FieldProblem:
        return None
    ticked = [_number(v) for v in form.getlist("unit")]
    shown = [_number(v) for v in shown_text.split(",")] if shown_text else []
    if None in ticked or None in shown or len(ticked) > MAX_SHOWN or len(shown) > MAX_SHOWN:
        return None
    return [i for i in ticked if i is not None], [i for i in shown if i is not None]


def _outside(viewer: Viewer, unit: object) -> Response:
    return message(
        "web.tree.outside_title",
        "web.tree.outside",
        viewer.lang,
        status=403,
        viewer=viewer,
        unit=unit,
    )


async def assign_save(request: Request) -> Response:
    """POST /desk/assign: `person` (id), `shown` (the page's unit ids), `unit` (each ticked)."""
    got = await posted(request, admin_viewer, fields=MAX_SHOWN + 10)
    if isinstance(got, Response):
        return got
    viewer, form = got
    scope = admin_scope(viewer.scope)
    ids = _ids(form)
    person_id = _number(form.get("person"))
    if ids is None or person_id is None:
        return _outside(viewer, "?")
    ticked, shown = ids
    web = web_of(request)
    async with web.db.write() as session:
        person: Person | None = await person_in_scope(
            session=session, person_id=person_id, scope=scope
        )
        if person is None or person.id is None:
            return message(
                "web.tree.outside_title",
                "web.tree.bad_person",
                viewer.lang,
                status=403,
                viewer=viewer,
            )
        wanted = set(ticked) | set(shown)
        found = {u.id: u for u in await units_by_ids(session=session, unit_ids=sorted(wanted))}
        for unit_id in sorted(wanted):
            unit = found.get(unit_id)
            if unit is None or not unit.active or not scope.sees(unit):
                return _outside(viewer, unit_id)  # the transaction ends with nothing written
        change = await set_followed_units(
            session=session,
            person_id=person.id,
            wanted=ticked,
            shown=shown,
            now=web.clock(),
            actor_person_id=viewer.person_id,
            channel=CHANNEL_WEB,
        )
    under = _number(form.get("under"))
    back = f"{URL}?who={person.id}" + (f"&under={under}" if under is not None else "")
    return RedirectResponse(f"{back}&saved={change.added}-{change.removed}", status_code=303)
