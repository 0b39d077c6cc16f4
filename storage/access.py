"""Who may see what: the one place that decides a person's scope.

Every bot command and every figure asks here, from the roles as they are in the database at that
moment (no caching), so a removed role or a removed person loses access at once.

- admin: the subtree under their unit, or the whole tree (role with no unit);
- supervisor: each unit they follow and everything below it;
- reporter: their own unit only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, Person, Role, Unit
from storage.tree import in_subtree, is_within


@dataclass(frozen=True)
class Scope:
    person_id: int
    whole_tree: bool = False
    admin_unit_ids: tuple[int, ...] = ()
    admin_paths: tuple[str, ...] = ()
    supervised_unit_ids: tuple[int, ...] = ()
    supervised_paths: tuple[str, ...] = ()
    reporter_unit_ids: tuple[int, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.whole_tree or bool(self.admin_paths)

    @property
    def is_supervisor(self) -> bool:
        return bool(self.supervised_paths)

    @property
    def is_reporter(self) -> bool:
        return bool(self.reporter_unit_ids)

    @property
    def is_empty(self) -> bool:
        """No role at all: the bot refuses politely and shows nothing."""
        return not (self.is_admin or self.is_supervisor or self.is_reporter)

    @property
    def subtree_roots(self) -> tuple[str, ...]:
        """Paths whose whole subtree is visible (admin subtrees and followed units), with
        paths already inside another one dropped."""
        return collapse_paths([*self.admin_paths, *self.supervised_paths])

    def sees(self, unit: Unit) -> bool:
        """Pure check against a loaded unit (same rule as `visible_units_condition`)."""
        if self.whole_tree:
            return True
        if unit.id is not None and unit.id in self.reporter_unit_ids:
            return True
        return any(is_within(unit.path, root) for root in self.subtree_roots)


def collapse_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted paths with every path that lies under another one removed."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if kept and is_within(path, kept[-1]):
            continue
        kept.append(path)
    return tuple(kept)


def admin_scope(scope: Scope) -> Scope:
    """Only the person's admin roles: what inviting, assigning and changing campaigns act on
    (followed units and the reporter's own unit give no such right)."""
    return replace(scope, supervised_unit_ids=(), supervised_paths=(), reporter_unit_ids=())


def scope_from_roles(person_id: int, roles: Iterable[tuple[str, int | None, str | None]]) -> Scope:
    """The scope rule itself, over a person's (role kind, unit id, unit path) rows."""
    whole_tree = False
    admin_ids: list[int] = []
    admin_paths: list[str] = []
    supervised_ids: list[int] = []
    supervised_paths: list[str] = []
    reporter_ids: list[int] = []
    for kind, unit_id, path in roles:
        if kind == ROLE_ADMIN:
            if unit_id is None:
                whole_tree = True
            elif path is not None:
                admin_ids.append(unit_id)
                admin_paths.append(path)
        elif kind == ROLE_SUPERVISOR and unit_id is not None and path is not None:
            supervised_ids.append(unit_id)
            supervised_paths.append(path)
        elif kind == ROLE_REPORTER and unit_id is not None:
            reporter_ids.append(unit_id)
    return Scope(
        person_id=person_id,
        whole_tree=whole_tree,
        admin_unit_ids=tuple(admin_ids),
        admin_paths=tuple(admin_paths),
        supervised_unit_ids=tuple(supervised_ids),
        supervised_paths=tuple(supervised_paths),
        reporter_unit_ids=tuple(reporter_ids),
    )


# People per role query (bounds the IN list below the drivers' bind-parameter limits).
SCOPES_PER_QUERY = 5_000


async def scopes_of(*, session: AsyncSession, person_ids: Iterable[int]) -> dict[int, Scope]:
    """Each person's scope as the database says right now, in one query per `SCOPES_PER_QUERY`
    people (empty for a removed, forgotten or unknown person)."""
    wanted = sorted(set(person_ids))
    roles: dict[int, list[tuple[str, int | None, str | None]]] = {}
    for start in range(0, len(wanted), SCOPES_PER_QUERY):
        rows = (
            await session.execute(
                select(col(Role.person_id), col(Role.kind), col(Role.unit_id), col(Unit.path))
                .join(Person, col(Person.id) == col(Role.person_id))
                .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
                .where(
                    col(Role.person_id).in_(wanted[start : start + SCOPES_PER_QUERY]),
                    col(Person.forgotten_at).is_(None),
                )
                .order_by(col(Role.person_id), col(Role.kind), col(Unit.path))
            )
        ).all()
        for person_id, kind, unit_id, path in rows:
            roles.setdefault(person_id, []).append((kind, unit_id, path))
    return {pid: scope_from_roles(pid, roles.get(pid, ())) for pid in wanted}


async def scope_of(*, session: AsyncSession, person_id: int) -> Scope:
    """The person's scope as the database says right now (empty if removed or unknown)."""
    return (await scopes_of(session=session, person_ids=[person_id]))[person_id]


async def can_see_unit(*, session: AsyncSession, person_id: int, unit: Unit) -> bool:
    scope = await scope_of(session=session, person_id=person_id)
    return scope.sees(unit)


def visible_units_condition(scope: Scope) -> ColumnElement[bool]:
    """SQL condition over `Unit`: the units this scope may see (false() for no role at all)."""
    if scope.whole_tree:
        return true()
    conditions: list[ColumnElement[bool]] = [
        in_subtree(col(Unit.path), root) for root in scope.subtree_roots
    ]
    if scope.reporter_unit_ids:
        conditions.append(col(Unit.id).in_(scope.reporter_unit_ids))
    if not conditions:
        return false()
    return or_(*conditions)


# --- reviewing reports ---------------------------------------------------------------------


def may_review(scope: Scope, unit: Unit) -> bool:
    """May the holder of `scope` approve, return or reopen this unit's reports: a supervisor
    whose followed units contain it, or an admin whose subtree contains it (a reporter role
    gives no review power, not even over the reporter's own unit)."""
    if scope.whole_tree:
        return True
    return any(is_within(unit.path, root) for root in scope.subtree_roots)


def review_units_condition(scope: Scope) -> ColumnElement[bool]:
    """SQL condition over `Unit`: the units whose reports `scope` may review (`may_review`)."""
    if scope.whole_tree:
        return true()
    conditions = [in_subtree(col(Unit.path), root) for root in scope.subtree_roots]
    return or_(*conditions) if conditions else false()


# --- acting on people ----------------------------------------------------------------------

# A person's role as the rule below reads it: (kind, unit id, unit path); unit None = whole tree.
TargetRole = tuple[str, int | None, str | None]


def may_act_on(scope: Scope, target_roles: Iterable[TargetRole]) -> bool:
    """May the holder of `scope` act on a person holding `target_roles`: re-bind their chat
    account (an invite that names them), give or take their roles (/phancong), remove them?

    Only with admin authority, and only when EVERY role of the target lies inside the issuer's
    admin subtrees: one role outside (a wider admin role, a followed unit elsewhere, a reporter
    role in another district) and the answer is no, because acting on the person (becoming
    them, above all) would reach that role too. A whole-tree admin may act on anyone. A target
    with no role at all is reachable only by a whole-tree admin (no subtree contains them).
    Supervised units and a reporter's unit give no power over people."""
    if scope.whole_tree:
        return True
    roots = collapse_paths(scope.admin_paths)
    if not roots:
        return False
    seen = False
    for _kind, unit_id, path in target_roles:
        seen = True
        if unit_id is None or path is None:  # a whole-tree role
            return False
        if not any(is_within(path, root) for root in roots):
            return False
    return seen


async def target_roles_of(*, session: AsyncSession, person_id: int) -> list[TargetRole]:
    """The person's roles as `may_act_on` reads them (now, from the database)."""
    rows = await session.execute(
        select(col(Role.kind), col(Role.unit_id), col(Unit.path))
        .outerjoin(Unit, col(Unit.id) == col(Role.unit_id))
        .where(col(Role.person_id) == person_id)
        .order_by(col(Role.kind), col(Role.unit_id))
    )
    return [(kind, unit_id, path) for kind, unit_id, path in rows]


async def person_to_act_on(*, session: AsyncSession, person_id: int, scope: Scope) -> Person | None:
    """The person (not removed) when `may_act_on` allows `scope` to act on them, else None (the
    caller answers as for a person who does not exist: nothing about them leaks)."""
    person = await session.get(Person, person_id)
    if person is None or person.forgotten_at is not None:
        return None
    roles = await target_roles_of(session=session, person_id=person_id)
    return person if may_act_on(scope, roles) else None
