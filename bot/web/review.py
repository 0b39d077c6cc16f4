"""The review page of the web console: the reports waiting for review in the viewer's scope,
each with its figures and its versions, and the recently approved ones; approve, return (with
the required reason) and reopen (with the reason) as CSRF-protected forms.

Every check is `storage.review`'s, made on the server against the viewer's scope as the
database says now (`storage.access.may_review`): a report outside it is answered as one that
does not exist; a form for a version that is no longer the current one, a decision on one's
own report or on a report in the wrong state changes nothing and says why in Vietnamese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.auth import Viewer, posted, refused, signed_in, web_of
from bot.web.fields import FieldProblem, field_text
from bot.web.render import page
from bot.web.unit_history import VersionView, field_labels, shown, version_views
from storage.i18n import t
from storage.i18n.formatting import name_in
from storage.models import CHANNEL_WEB
from storage.report_views import versions_by_report
from storage.review import (
    REASON_MAX,
    ReviewItem,
    ReviewRefused,
    approve_report,
    approved_reviews,
    pending_reviews,
    reopen_report,
    return_report,
)

SHOWN = 50
ACTIONS = ("approve", "return", "reopen")
# Chat refusals whose wording names a chat command: the web says it its own way.
WEB_WORDING = {
    "review.reason_required": "web.review.reason_required",
    "review.stale": "web.review.stale",
    "review.wrong_state.approved": "web.review.wrong_state_approved",
}


@dataclass(frozen=True)
class ReviewView:
    report_id: int
    version_id: int
    version: int
    unit_id: int
    unit: str
    code: str
    deliverable: str
    campaign: str
    timezone: str
    sent_at: datetime
    figures: list[tuple[str, str]]
    versions: list[VersionView]


def _digits(raw: object) -> int | None:
    text = str(raw or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


async def _reviewer(request: Request) -> Viewer | Response:
    viewer = await signed_in(request)
    if isinstance(viewer, Viewer) and not (viewer.scope.is_supervisor or viewer.is_admin):
        return refused(viewer)
    return viewer


async def _views(request: Request, items: list[ReviewItem], lang: str) -> list[ReviewView]:
    async with web_of(request).db.read() as session:
        history = await versions_by_report(session=session, report_ids=[i.report_id for i in items])
    views = []
    for item in items:
        labels = field_labels(item.deliverable.form, lang)
        answers = item.version.answers or {}
        assert item.version.id is not None and item.unit.id is not None
        views.append(
            ReviewView(
                report_id=item.report_id,
                version_id=item.version.id,
                version=item.version.version,
                unit_id=item.unit.id,
                unit=item.unit.name,
                code=item.unit.code,
                deliverable=name_in(item.deliverable, lang),
                campaign=item.campaign.reference,
                timezone=item.campaign.timezone,
                sent_at=item.version.created_at,
                figures=[(label, shown(answers.get(k), lang)) for k, label in labels.items()],
                versions=version_views(history.get(item.report_id, []), labels, lang),
            )
        )
    return views


async def _page(
    request: Request, viewer: Viewer, *, notice: str = "", problem: str = "", status: int = 200
) -> Response:
    async with web_of(request).db.read() as session:
        waiting = await pending_reviews(session=session, scope=viewer.scope, limit=SHOWN)
        approved = await approved_reviews(session=session, scope=viewer.scope, limit=SHOWN)
    return page(
        "review.html",
        viewer.lang,
        status=status,
        viewer=viewer,
        pending=await _views(request, waiting, viewer.lang),
        approved=await _views(request, approved, viewer.lang),
        notice=notice,
        problem=problem,
        reason_max=REASON_MAX,
    )


async def review_page(request: Request) -> Response:
    viewer = await _reviewer(request)
    if isinstance(viewer, Response):
        return viewer
    done, number = request.query_params.get("done"), _digits(request.query_params.get("n"))
    notice = t(f"web.review.done.{done}", viewer.lang, number=number) if (
        done in ACTIONS and number is not None
    ) else ""  # fmt: skip
    return await _page(request, viewer, notice=notice)


async def decide(request: Request) -> Response:
    """POST /review/<report id>/<approve|return|reopen>: `version` (the version the form was
    shown for) and, to return or reopen, `reason`."""
    got = await posted(request, _reviewer)
    if isinstance(got, Response):
        return got
    viewer, form = got
    action = str(request.path_params.get("action", ""))
    number = _digits(request.path_params.get("report_id"))
    version_id = _digits(form.get("version"))
    if action not in ACTIONS or number is None:
        return refused(viewer)
    lang = viewer.lang
    if version_id is None:
        return await _page(request, viewer, problem=t("web.review.bad", lang), status=400)
    try:
        reason = field_text(form, "reason", limit=REASON_MAX)
    except FieldProblem as problem:
        text = problem.message(lang, t("web.review.reason", lang))
        return await _page(request, viewer, problem=text, status=400)
    web, scope, now = web_of(request), viewer.scope, web_of(request).clock()
    try:
        async with web.db.write() as session:
            if action == "approve":
                await approve_report(
                    session=session, scope=scope, report_id=number, channel=CHANNEL_WEB,
                    now=now, version_id=version_id,
                )  # fmt: skip
            else:
                act = return_report if action == "return" else reopen_report
                await act(
                    session=session, scope=scope, report_id=number, reason=reason,
                    channel=CHANNEL_WEB, now=now, version_id=version_id,
                )  # fmt: skip
    except ReviewRefused as no:
        if no.key == "review.not_found":
            return refused(viewer)
        text = t(WEB_WORDING.get(no.key, no.key), lang, **no.params)
        status = 400 if no.key.startswith("review.reason") else 409
        return await _page(request, viewer, problem=text, status=status)
    return RedirectResponse(f"/review?done={action}&n={number}", status_code=303)
