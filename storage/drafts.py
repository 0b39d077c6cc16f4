"""Reports in progress: one draft per person, kept in the database so it survives restarts.

Every change goes through `advance`, an optimistic update: it applies only if the draft still has
the revision the caller read (`UPDATE ... WHERE id = :id AND revision = :seen`), and bumps the
revision. A button pressed twice, or a press on an old message, carries an old revision and
changes nothing. Functions never commit (the caller owns the transaction).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from storage.clock import require_aware
from storage.models import Draft

MODE_NEW = "new"
MODE_UPDATE = "update"

# Draft attributes `advance` may change.
_CHANGEABLE = frozenset({"unit_id", "deliverable_id", "report_id", "mode", "step", "answers"})


async def get_draft(*, session: AsyncSession, person_id: int) -> Draft | None:
    """The person's open draft, if any."""
    query = select(Draft).where(col(Draft.person_id) == person_id)
    return (await session.execute(query)).scalar_one_or_none()


async def has_draft(*, session: AsyncSession, person_id: int) -> bool:
    query = select(col(Draft.id)).where(col(Draft.person_id) == person_id)
    return (await session.execute(query)).first() is not None


async def start_draft(
    *,
    session: AsyncSession,
    person_id: int,
    unit_id: int,
    channel: str,
    now: datetime,
    step: str,
    mode: str = MODE_NEW,
    deliverable_id: int | None = None,
    report_id: int | None = None,
    answers: dict[str, Any] | None = None,
) -> Draft:
    """A fresh draft for the person; an older one is deleted. Its buttons become stale: the new
    draft's revisions continue after the old one's, and its `nonce` differs (SQLite may give the
    new row the old row's id)."""
    require_aware(now)
    old = (await session.execute(_PERSON_DRAFT, {"person_id": person_id})).first()
    revision = 1
    if old is not None:
        revision = old.revision + 1
        await session.execute(_DELETE, {"draft_id": old.id})
    draft = Draft(
        person_id=person_id,
        unit_id=unit_id,
        deliverable_id=deliverable_id,
        report_id=report_id,
        mode=mode,
        step=step,
        channel=channel,
        answers=dict(answers or {}),
        revision=revision,
        created_at=now,
        updated_at=now,
    )
    # A Core INSERT, then the row joins the session as loaded (no unit-of-work flush).
    values = {
        column.name: getattr(draft, column.name) for column in _TABLE.c if column.name != "id"
    }
    draft.id = (await session.execute(_INSERT, values)).scalar_one()
    make_transient_to_detached(draft)
    session.add(draft)
    return draft


async def advance(
    *, session: AsyncSession, draft: Draft, seen_revision: int, now: datetime, **changes: Any
) -> bool:
    """Apply `changes` (step, answers, unit_id, deliverable_id, report_id, mode) and bump the
    revision, only if the draft is still at `seen_revision`. False (nothing changed) when it is
    not: another press or message got there first. The `draft` object is kept in step."""
    require_aware(now)
    unknown = set(changes) - _CHANGEABLE
    if unknown:
        raise ValueError(f"not a draft attribute: {sorted(unknown)}")
    values = {**changes, "revision": seen_revision + 1, "updated_at": now}
    params = {f"new_{name}": value for name, value in values.items()}
    params.update(draft_id=draft.id, seen_revision=seen_revision)
    result = await session.execute(_advance_statement(frozenset(changes)), params)
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(draft, name, value)
    return True


_TABLE: Any = Draft.__table__  # type: ignore[attr-defined]  # Core statements


# Core statements on the table, built once (no ORM statement set-up per call); like the ORM
# delete with synchronize_session=False, a deleted row's object stays in the session untouched.
_PERSON_DRAFT = select(_TABLE.c.id, _TABLE.c.revision).where(
    _TABLE.c.person_id == bindparam("person_id")
)
_DELETE = delete(_TABLE).where(_TABLE.c.id == bindparam("draft_id"))
_INSERT = insert(_TABLE).returning(_TABLE.c.id)
_INSERTED = tuple(column.name for column in _TABLE.c if column.name != "id")


@lru_cache(maxsize=2 ** len(_CHANGEABLE))
def _advance_statement(changed: frozenset[str]) -> Any:
    """`advance`'s UPDATE for one set of changed attributes, built once: a Core statement on
    the table (no ORM bulk-update setup), cached compiled like any other."""
    names = [*sorted(changed), "revision", "updated_at"]
    return (
        update(_TABLE)
        .where(
            _TABLE.c.id == bindparam("draft_id"),
            _TABLE.c.revision == bindparam("seen_revision"),
        )
        .values({name: bindparam(f"new_{name}") for name in names})
    )


def nonce(draft: Draft) -> str:
    """A short tag of this draft's identity (id, person, creation time) for button data, so a
    button of a deleted draft never matches a new draft that got the same id."""
    # The instant, not its rendering: a draft created with a local-time `now` reads back in UTC.
    created = round(draft.created_at.timestamp() * 1_000_000)
    return _nonce(draft.id, draft.person_id, created)


@lru_cache(maxsize=1024)
def _nonce(draft_id: int | None, person_id: int, created: int) -> str:
    """The tag itself: computed once per draft, not once per button of every reply."""
    seed = f"{draft_id}|{person_id}|{created}"
    return hashlib.sha256(seed.encode()).hexdigest()[:6]


def is_current(
    draft: Draft | None, *, draft_id: int, revision: int, tag: str | None = None
) -> bool:
    """Does a button made for (draft_id, revision[, nonce]) still apply to this draft?"""
    if draft is None or draft.id != draft_id or draft.revision != revision:
        return False
    return tag is None or tag == nonce(draft)


async def delete_draft(*, session: AsyncSession, draft_id: int) -> bool:
    """Delete the draft; False if it was already gone."""
    result = await session.execute(_DELETE, {"draft_id": draft_id})
    return isinstance(result, CursorResult) and result.rowcount == 1


async def delete_person_draft(*, session: AsyncSession, person_id: int) -> bool:
    result = await session.execute(delete(Draft).where(col(Draft.person_id) == person_id))
    return isinstance(result, CursorResult) and result.rowcount == 1
