"""Pages: Jinja2 templates (autoescaped) with the catalog and the Vietnamese number, percent and
date formats; the environment is built once, on first use."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from storage.figures import Rate
from storage.i18n import t
from storage.i18n.formatting import date_text, name_in, number, percent
from storage.review import review_basis

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"


def _rate(rate: Rate, lang: str = "vi") -> str:
    return percent(rate.numerator, rate.denominator, lang)


def _when(moment: datetime, tz: str, lang: str = "vi") -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%H:%M} {date_text(local.date(), lang)}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["rate"] = _rate
    env.filters["day"] = lambda value, lang="vi": (
        date_text(value, lang) if isinstance(value, date) else ""
    )
    env.filters["when"] = _when
    env.filters["name"] = name_in
    env.filters["basis"] = review_basis  # approved_only|basis(lang)
    return env


def render(name: str, lang: str = "vi", /, **context: Any) -> str:
    def translate(key: str, **params: object) -> str:
        return t(key, lang, **params)

    return environment().get_template(name).render(lang=lang, t=translate, **context)


def page(name: str, lang: str = "vi", /, *, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, lang, **context), status_code=status)


def message(
    title_key: str,
    body_key: str,
    lang: str = "vi",
    /,
    *,
    status: int = 200,
    viewer: Any = None,
    **params: object,
) -> HTMLResponse:
    """A page that only says something (a refusal, what to do next)."""
    return page(
        "message.html",
        lang,
        status=status,
        title=t(title_key, lang),
        body=t(body_key, lang, **params),
        viewer=viewer,
    )
