"""The digest chart: one small PNG (800×450 px) per digest.

Left: reporting progress per level, one 100%-stacked bar per deliverable (on time / late /
missing, as a share of the units expected, so a level of one province sits beside 10,000 cells);
right: the essay rate per level against the campaign's threshold. Labels come from the catalog
(Vietnamese with diacritics: DejaVu Sans, shipped with matplotlib, covers them).

Two layers. The frame (grid, percent labels, panel titles, level names, legend, the title with
the campaign's reference and the week, the threshold caption) is the same for every supervisor
of a campaign in a week whose units show the same levels and deliverables: matplotlib draws it
once (object API, `Figure` + the Agg canvas, no pyplot: no global figure registry to leak into,
safe in a long-running process; no Axes, whose tick machinery is most of the cost of a small
chart) and it is kept, as pixels, per language, title, levels, bars and threshold. What is each
person's own, the bars, the essay percentages and the dashed threshold line, is drawn with
Pillow straight on a copy of those pixels (same font, DejaVu Sans), which costs well under a
millisecond instead of a matplotlib draw (see docs/benchmarks.md, "Digest rendering"). The PNG
is deterministic (no software or timestamp metadata), so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image, ImageDraw, ImageFont

from scheduler.digest_text import threshold_text
from scheduler.digest_types import CampaignDigest, DigestData
from storage.i18n import t
from storage.i18n.formatting import level_label, percent

WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100
ON_TIME, LATE, MISSING = "#2e7d32", "#f9a825", "#c62828"
ESSAY, THRESHOLD = "#1565c0", "#424242"
GRID, AXIS = "#dddddd", "#555555"
COMPRESS_LEVEL = 1


def _wrap(label: str) -> str:
    return textwrap.fill(label, 14)


@dataclass(frozen=True)
class _Panel:
    """A plotting area in figure coordinates, with a 0-108 % vertical scale."""

    x0: float
    x1: float
    y0: float = 0.2
    y1: float = 0.84
    top: float = 108.0

    def y(self, value: float) -> float:
        return self.y0 + (self.y1 - self.y0) * value / self.top

    def x(self, slot: float, slots: int) -> float:
        """The x of position `slot` (0 .. slots, centres at i + 0.5) across the panel."""
        return self.x0 + (self.x1 - self.x0) * slot / max(slots, 1)


class _Canvas:
    """Bars, lines and text straight on the figure (no Axes: no tick machinery, which is most
    of the cost of a small matplotlib chart)."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        FigureCanvasAgg(self.fig)

    def rgba(self) -> Image.Image:
        """Draw and return the pixels (straight, not premultiplied, alpha)."""
        agg = self.fig.canvas
        assert isinstance(agg, FigureCanvasAgg)
        agg.draw()
        return Image.frombuffer(
            "RGBA", agg.get_width_height(), agg.buffer_rgba(), "raw", "RGBA", 0, 1
        ).copy()

    def text(self, x: float, y: float, value: str, **style: Any) -> None:
        # parse_math=False: a reference such as "13-KH/TU $" is text, never mathtext.
        self.fig.text(x, y, value, parse_math=False, **style)

    def bar(self, x: float, width: float, y0: float, y1: float, color: str) -> None:
        if y1 > y0:
            self.fig.add_artist(
                Rectangle(
                    (x - width / 2, y0),
                    width,
                    y1 - y0,
                    facecolor=color,
                    edgecolor="none",
                    transform=self.fig.transFigure,
                )
            )

    def hline(self, panel: _Panel, value: float, **style: Any) -> None:
        y = panel.y(value)
        self.fig.add_artist(
            Line2D([panel.x0, panel.x1], [y, y], transform=self.fig.transFigure, **style)
        )

    def frame(self, panel: _Panel, title: str, labels: list[str]) -> None:
        for value in (0, 25, 50, 75, 100):
            self.hline(panel, value, color=GRID if value else AXIS, linewidth=0.8, zorder=0.5)
            self.text(
                panel.x0 - 0.006, panel.y(value), f"{value}%", ha="right", va="center", fontsize=8
            )
        self.text((panel.x0 + panel.x1) / 2, panel.y1 + 0.03, title, ha="center", fontsize=9)
        for i, label in enumerate(labels):
            self.text(
                panel.x(i + 0.5, len(labels)),
                panel.y0 - 0.02,
                label,
                ha="center",
                va="top",
                fontsize=8,
            )


PROGRESS = _Panel(0.08, 0.60)
ESSAY_PANEL = _Panel(0.69, 0.98)


@lru_cache(maxsize=256)
def _frame(
    lang: str,
    title: str,
    labels: tuple[str, ...],
    marks: tuple[tuple[float, str], ...],
    threshold: str,
    no_data: bool,
) -> Image.Image:
    """The static part of the chart as RGB pixels: the title (campaign reference and week), grid,
    percent labels, panel titles, level names, legend, the deliverable marks "(1)" over the bars,
    the threshold caption (and "no data yet" when nothing is expected). It is the same for every
    supervisor of the campaign that week whose units show the same levels and bars, and holds all
    of the chart's matplotlib drawing; each chart copies it and draws its own bars on top. Never
    modified: callers copy it."""
    canvas = _Canvas()
    canvas.text(0.5, 0.95, title, ha="center", va="center", fontsize=12)
    if no_data:
        canvas.text(
            (PROGRESS.x0 + PROGRESS.x1) / 2,
            PROGRESS.y(50),
            t("digest.chart.no_data", lang),
            ha="center",
            fontsize=10,
        )
    canvas.frame(PROGRESS, t("digest.chart.progress", lang), list(labels))
    canvas.frame(ESSAY_PANEL, t("digest.chart.essay", lang), list(labels))
    for x, mark in marks:
        canvas.text(x, PROGRESS.y(101), mark, ha="center", va="bottom", fontsize=7)
    essay = ESSAY_PANEL
    canvas.text(
        (essay.x0 + essay.x1) / 2,
        0.061,
        threshold,
        ha="center",
        va="center",
        fontsize=8,
        color=THRESHOLD,
    )
    legend = (
        (ON_TIME, t("digest.chart.on_time", lang)),
        (LATE, t("digest.chart.late", lang)),
        (MISSING, t("digest.chart.missing", lang)),
    )
    for i, (color, label) in enumerate(legend):
        x = PROGRESS.x0 + 0.03 + i * 0.16
        canvas.bar(x, 0.018, 0.045, 0.077, color)
        canvas.text(x + 0.016, 0.061, label, va="center", fontsize=8)
    return canvas.rgba().convert("RGB")


# matplotlib's default dashes ("--") for a 1-point line: 3.7 points on, 1.6 off.
DASH_ON, DASH_OFF = 3.7 * DPI / 72, 1.6 * DPI / 72


@lru_cache(maxsize=4)
def _font(points: float) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib, as in the frame) at `points` on the chart's DPI."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size=points * DPI / 72)


class _Overlay:
    """One person's bars, percentages and threshold line, drawn with Pillow on a copy of the
    cached frame (figure coordinates: 0..1 from the bottom left, as in matplotlib)."""

    def __init__(self, frame: Image.Image) -> None:
        self.image = frame.copy()
        self.draw = ImageDraw.Draw(self.image)

    @staticmethod
    def px(x: float, y: float) -> tuple[float, float]:
        return x * WIDTH_PX, (1.0 - y) * HEIGHT_PX

    def bar(self, x: float, width: float, y0: float, y1: float, color: str) -> None:
        if y1 <= y0:
            return
        left, top = self.px(x - width / 2, y1)
        right, bottom = self.px(x + width / 2, y0)
        box = (round(left), round(top), max(round(left), round(right) - 1), round(bottom) - 1)
        if box[3] >= box[1]:
            self.draw.rectangle(box, fill=color)

    def text_above(self, x: float, y: float, value: str, points: float) -> None:
        """`value` centred on x, its bottom at y (matplotlib's ha="center", va="bottom")."""
        self.draw.text(self.px(x, y), value, fill="black", font=_font(points), anchor="md")

    def dashed(self, panel: _Panel, value: float, color: str) -> None:
        left, y = self.px(panel.x0, panel.y(value))
        right, _ = self.px(panel.x1, panel.y(value))
        row = round(y)
        start = left
        while start < right:
            end = min(start + DASH_ON, right)
            self.draw.line(((round(start), row), (round(end) - 1, row)), fill=color, width=1)
            start = end + DASH_OFF


def render_campaign_chart(campaign: CampaignDigest, lang: str) -> bytes:
    """The PNG for one campaign of a digest."""
    figures = campaign.figures
    keys = [d.key for d in figures.deliverables]
    groups = [g for g in figures.per_level if any(g.status[k].expected for k in keys)]
    labels = tuple(_wrap(level_label(g.levels[0], lang)) for g in groups)
    iso = figures.as_of_date.isocalendar()
    title = t("digest.chart.title", lang, week=iso.week, year=iso.year, reference=figures.reference)

    # Reporting progress: per level, one 100%-stacked bar per deliverable.
    progress = PROGRESS
    slot = (progress.x1 - progress.x0) / max(len(groups), 1)
    width = slot * 0.8 / max(len(keys), 1)
    bars: list[tuple[float, float, float, float, str]] = []
    marks: list[tuple[float, str]] = []  # drawn in the cached frame
    for gi, group in enumerate(groups):
        for ki, key in enumerate(keys):
            status = group.status[key]
            if not status.expected:
                continue
            x = progress.x0 + slot * (gi + 0.1) + width * (ki + 0.5)
            shares = (status.on_time, status.late, status.missing)
            bottom = 0.0
            for share, color in zip(shares, (ON_TIME, LATE, MISSING), strict=True):
                top = bottom + 100 * share / status.expected
                bars.append((x, width * 0.88, progress.y(bottom), progress.y(top), color))
                bottom = top
            if len(keys) > 1:
                marks.append((x, f"({ki + 1})"))
    threshold = Fraction(str(figures.essay_rate_threshold)).limit_denominator(10_000)
    caption = "- - " + t("digest.chart.threshold", lang, threshold=threshold_text(threshold, lang))
    overlay = _Overlay(_frame(lang, title, labels, tuple(marks), caption, not groups))
    for bar in bars:
        overlay.bar(*bar)

    # Essay rate per level, against the campaign's threshold.
    essay = ESSAY_PANEL
    bar_width = (essay.x1 - essay.x0) / max(len(groups), 1) * 0.6
    for gi, group in enumerate(groups):
        rate = group.essay
        value = float(rate.value) * 100 if rate.value is not None else 0.0
        x = essay.x(gi + 0.5, len(groups))
        overlay.bar(x, bar_width, essay.y(0), essay.y(value), ESSAY)
        overlay.text_above(
            x, essay.y(value) + 0.008, percent(rate.numerator, rate.denominator, lang), 7
        )
    overlay.dashed(essay, float(threshold) * 100, THRESHOLD)
    return encode_png(overlay.image)


def encode_png(image: Image.Image) -> bytes:
    """An RGB PNG without metadata (deterministic). Dropping the alpha channel (the background
    is opaque white) makes it smaller and quicker to compress."""
    buffer = io.BytesIO()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    rgb.save(buffer, format="PNG", compress_level=COMPRESS_LEVEL)
    return buffer.getvalue()


def render_chart(data: DigestData) -> bytes:
    """The digest's PNG: the chart of its first campaign (a digest always has one)."""
    return render_campaign_chart(data.campaigns[0], data.lang)
