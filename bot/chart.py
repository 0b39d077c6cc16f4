"""The digest chart: one small PNG (800×450 px) per digest.

Left: reporting progress per level, one 100%-stacked bar per deliverable (on time / late /
missing, as a share of the units expected, so a level of one province sits beside 10,000 cells);
right: the essay rate per level against the campaign's threshold. Labels come from the catalog
(Vietnamese with diacritics: DejaVu Sans, shipped with matplotlib, covers them).

Rendering uses the object API (`Figure` + the Agg canvas), not pyplot: no global figure registry
to leak into or to close, safe in a long-running process. The PNG is deterministic (no software
or timestamp metadata), so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from fractions import Fraction
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from bot.digest_text import threshold_text
from bot.formatting import level_label, percent
from bot.i18n import t

if TYPE_CHECKING:
    from scheduler.digest import CampaignDigest, DigestData

WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100
ON_TIME, LATE, MISSING = "#2e7d32", "#f9a825", "#c62828"
ESSAY, THRESHOLD = "#1565c0", "#424242"
COMPRESS_LEVEL = 3


def _wrap(label: str) -> str:
    return textwrap.fill(label, 14)


def render_campaign_chart(campaign: CampaignDigest, lang: str) -> bytes:
    """The PNG for one campaign of a digest."""
    figures = campaign.figures
    keys = [d.key for d in figures.deliverables]
    groups = [g for g in figures.per_level if any(g.status[k].expected for k in keys)]
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    iso = figures.as_of_date.isocalendar()
    fig.suptitle(
        t("digest.chart.title", lang, week=iso.week, year=iso.year, reference=figures.reference),
        fontsize=12,
    )
    progress = fig.add_axes((0.07, 0.2, 0.53, 0.64))
    essay = fig.add_axes((0.69, 0.2, 0.29, 0.64))
    labels = [_wrap(level_label(g.levels[0], lang)) for g in groups]

    # Progress: bar positions, grouped by level.
    n = max(len(keys), 1)
    width = 0.8 / n
    xs: list[float] = []
    on_time: list[float] = []
    late: list[float] = []
    missing: list[float] = []
    for gi, group in enumerate(groups):
        for ki, key in enumerate(keys):
            status = group.status[key]
            if not status.expected:
                continue
            xs.append(gi - 0.4 + width * (ki + 0.5))
            on_time.append(100 * status.on_time / status.expected)
            late.append(100 * status.late / status.expected)
            missing.append(100 * status.missing / status.expected)
            if len(keys) > 1:
                progress.text(xs[-1], 101, f"({ki + 1})", ha="center", va="bottom", fontsize=7)
    bottom_late = on_time
    bottom_missing = [a + b for a, b in zip(on_time, late, strict=True)]
    progress.bar(xs, on_time, width * 0.9, color=ON_TIME, label=t("digest.chart.on_time", lang))
    progress.bar(
        xs, late, width * 0.9, bottom=bottom_late, color=LATE, label=t("digest.chart.late", lang)
    )
    progress.bar(
        xs,
        missing,
        width * 0.9,
        bottom=bottom_missing,
        color=MISSING,
        label=t("digest.chart.missing", lang),
    )
    progress.set_ylim(0, 108)
    progress.set_yticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    progress.set_xticks(range(len(groups)), labels, fontsize=8)
    progress.set_xlim(-0.6, max(len(groups), 1) - 0.4)
    progress.set_title(t("digest.chart.progress", lang), fontsize=9)
    progress.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, fontsize=8, frameon=False
    )

    # Essay rate per level, with the threshold.
    rates = [g.essay for g in groups]
    values = [float(r.value) * 100 if r.value is not None else 0.0 for r in rates]
    bars = essay.bar(range(len(groups)), values, 0.6, color=ESSAY)
    for bar, rate in zip(bars, rates, strict=True):
        essay.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + 1,
            percent(rate.numerator, rate.denominator, lang),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    threshold = figures.essay_rate_threshold * 100
    essay.axhline(threshold, color=THRESHOLD, linestyle="--", linewidth=1)
    essay.text(
        0.5,
        -0.2,
        "- - "
        + t(
            "digest.chart.threshold",
            lang,
            threshold=threshold_text(
                Fraction(str(figures.essay_rate_threshold)).limit_denominator(10_000), lang
            ),
        ),
        fontsize=8,
        ha="center",
        va="top",
        color=THRESHOLD,
        transform=essay.transAxes,
    )
    essay.set_ylim(0, 108)
    essay.set_yticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    essay.set_xticks(range(len(groups)), labels, fontsize=8)
    essay.set_xlim(-0.6, max(len(groups), 1) - 0.4)
    essay.set_title(t("digest.chart.essay", lang), fontsize=9)
    if not groups:
        progress.text(0, 50, t("digest.chart.no_data", lang), ha="center", fontsize=10)

    return _png(fig)


def _png(fig: Figure) -> bytes:
    """Encode the drawn figure as an RGB PNG without metadata (deterministic). Dropping the
    alpha channel (the background is opaque white) makes it smaller and quicker to compress."""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    image = Image.frombuffer(
        "RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1
    ).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=COMPRESS_LEVEL)
    return buffer.getvalue()


def render_chart(data: DigestData) -> bytes:
    """The digest's PNG: the chart of its first campaign (a digest always has one)."""
    return render_campaign_chart(data.campaigns[0], data.lang)
