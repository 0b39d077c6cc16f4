"""The digest chart: one PNG (800×600 px per open campaign, stacked) per digest.

Left: reporting progress per level, one 100%-stacked bar per deliverable (on time / late /
missing, as a share of the units expected, so a level of one province sits beside 10,000 cells),
with the units reported over the units expected above each bar ("5/7"), so a level of one unit
shows its count too; right: the essay rate per level against the campaign's threshold. The chart
stands alone: its legend names the deliverables the "(1)" "(2)" marks stand for, and the colours
are the colour-blind-safe Okabe-Ito palette with a second cue (late is dotted, missing hatched).
Type is large enough to read at phone width. Labels come from the catalog (Vietnamese with
diacritics: DejaVu Sans, shipped with matplotlib, covers them). Several open campaigns give one
image with one chart per campaign, one under the other.

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
import struct
import textwrap
import zlib
from collections.abc import Callable
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

from scheduler.digest_types import CampaignDigest, DigestData
from storage.i18n import t
from storage.i18n.formatting import level_label, name_in, number, percent, threshold_text

WIDTH_PX, HEIGHT_PX, DPI = 800, 600, 100
# Okabe-Ito (colour-blind safe): blue, orange, vermillion; a pattern as the second cue.
ON_TIME, LATE, MISSING = "#0072B2", "#E69F00", "#D55E00"
PATTERNS = {ON_TIME: None, LATE: "dots", MISSING: "hatch"}
ESSAY, THRESHOLD = "#009E73", "#000000"
TITLE_PT, HEAD_PT, LABEL_PT, SMALL_PT = 15, 12, 11, 10
GRID, AXIS = "#dddddd", "#555555"
COMPRESS_LEVEL = 1


def _deflater() -> Callable[[bytes, int], bytes]:
    """ISA-L's deflate (the `isal` package): the same zlib stream as `zlib.compress`, several
    times faster at level 1 (about 0.5 ms instead of 3 for a chart); `zlib` where it is not
    installed (an environment from before it was a dependency), the same pixels either way."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib.compress
    compress: Callable[[bytes, int], bytes] = isal_zlib.compress
    return compress


DEFLATE = _deflater()


def _wrap(label: str) -> str:
    return textwrap.fill(label, 12)


@dataclass(frozen=True)
class _Panel:
    """A plotting area in figure coordinates, with a 0-108 % vertical scale."""

    x0: float
    x1: float
    y0: float = 0.36
    y1: float = 0.80
    top: float = 118.0

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

    def frame(
        self, panel: _Panel, title: str, labels: list[str], label_pt: float = LABEL_PT
    ) -> None:
        for value in (0, 25, 50, 75, 100):
            self.hline(panel, value, color=GRID if value else AXIS, linewidth=0.8, zorder=0.5)
            self.text(
                panel.x0 - 0.006,
                panel.y(value),
                f"{value}%",
                ha="right",
                va="center",
                fontsize=SMALL_PT,
            )
        self.text(
            (panel.x0 + panel.x1) / 2,
            panel.y1 + 0.04,
            textwrap.fill(title, round((panel.x1 - panel.x0) * 80)),
            ha="center",
            va="bottom",
            fontsize=HEAD_PT,
        )
        for i, label in enumerate(labels):
            self.text(
                panel.x(i + 0.5, len(labels)),
                panel.y0 - 0.015,
                label,
                ha="center",
                va="top",
                fontsize=label_pt,
            )


PROGRESS = _Panel(0.09, 0.60)
ESSAY_PANEL = _Panel(0.70, 0.98)
# The legend rows under the panels (figure coordinates).
STATUS_ROW, FIRST_NAME_ROW, NAME_STEP = 0.175, 0.115, 0.045
SWATCH = (0.03, 0.036)  # width, height


@lru_cache(maxsize=256)
def _frame(
    lang: str,
    title: str,
    labels: tuple[str, ...],
    marks: tuple[tuple[float, str], ...],
    threshold: str,
    no_data: bool,
    names: tuple[str, ...] = (),
) -> Image.Image:
    """The static part of the chart as RGB pixels: the title (campaign reference and week), grid,
    percent labels, panel titles, level names, legend, the deliverable marks "(1)" over the bars,
    the threshold caption (and "no data yet" when nothing is expected). It is the same for every
    supervisor of the campaign that week whose units show the same levels and bars, and holds all
    of the chart's matplotlib drawing; each chart copies it and draws its own bars on top. Never
    modified: callers copy it."""
    canvas = _Canvas()
    canvas.text(0.5, 0.955, title, ha="center", va="center", fontsize=TITLE_PT)
    if no_data:
        canvas.text(
            (PROGRESS.x0 + PROGRESS.x1) / 2,
            PROGRESS.y(50),
            t("digest.chart.no_data", lang),
            ha="center",
            fontsize=LABEL_PT,
        )
    canvas.frame(PROGRESS, t("digest.chart.progress", lang), list(labels))
    narrow = [textwrap.fill(label.replace("\n", " "), 7) for label in labels]
    canvas.frame(ESSAY_PANEL, t("digest.chart.essay", lang), narrow, SMALL_PT)
    for x, mark in marks:
        canvas.text(x, PROGRESS.y(108), mark, ha="center", va="bottom", fontsize=SMALL_PT)
    essay = ESSAY_PANEL
    canvas.text(
        (essay.x0 + essay.x1) / 2,
        STATUS_ROW,
        threshold,
        ha="center",
        va="center",
        fontsize=LABEL_PT,
        color=THRESHOLD,
    )
    for i, (_color, label) in enumerate(_status_legend(lang)):
        x = _swatch_x(i)
        canvas.text(x + SWATCH[0] / 2 + 0.008, STATUS_ROW, label, va="center", fontsize=LABEL_PT)
    # The deliverables the marks above the bars stand for, by name.
    for i, name in enumerate(names):
        canvas.text(
            PROGRESS.x0 - 0.05,
            FIRST_NAME_ROW - i * NAME_STEP,
            f"({i + 1}) {name}",
            va="center",
            fontsize=LABEL_PT,
        )
    return canvas.rgba().convert("RGB")


def _status_legend(lang: str) -> tuple[tuple[str, str], ...]:
    return (
        (ON_TIME, t("digest.chart.on_time", lang)),
        (LATE, t("digest.chart.late", lang)),
        (MISSING, t("digest.chart.missing", lang)),
    )


def _swatch_x(index: int) -> float:
    return PROGRESS.x0 - 0.03 + index * 0.19


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
            self.pattern(box, PATTERNS.get(color))

    def pattern(self, box: tuple[int, int, int, int], kind: str | None) -> None:
        """The second cue besides colour: white dots (late) or diagonal hatching (missing)."""
        x0, y0, x1, y1 = box
        if kind == "dots":
            for y in range(y0 + 3, y1 - 1, 7):
                for x in range(x0 + 3 + (y // 7 % 2) * 3, x1 - 1, 7):
                    self.draw.rectangle((x, y, x + 1, y + 1), fill="white")
        elif kind == "hatch":
            for start in range(x0 - (y1 - y0), x1, 8):
                # a 45° line from (start, y1) up to the right, clipped to the box
                a = (max(start, x0), y1 - (max(start, x0) - start))
                end = min(start + (y1 - y0), x1)
                b = (end, y1 - (end - start))
                if a[1] >= y0 and b[1] <= y1:
                    self.draw.line((a, (b[0], max(b[1], y0))), fill="white", width=2)

    def text_at(self, x: float, y: float, value: str, points: float, anchor: str) -> None:
        self.draw.text(self.px(x, y), value, fill="black", font=_font(points), anchor=anchor)

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


@dataclass(frozen=True)
class _Plan:
    """Everything one campaign's chart draws: the frame's key and each person's own marks."""

    frame: tuple[Any, ...]  # the arguments of `_frame`
    bars: tuple[tuple[float, float, float, float, str], ...]  # x, width, y0, y1, colour
    counts: tuple[tuple[float, float, str], ...]  # "reported/expected" above each bar
    count_pt: float
    swatches: tuple[tuple[float, float, float, float, str], ...]  # the legend's colours
    essays: tuple[tuple[float, float, float, str], ...]  # x, width, value (%), percentage
    threshold: float  # percent


def _plan(campaign: CampaignDigest, lang: str) -> _Plan:
    figures = campaign.figures
    keys = [d.key for d in figures.deliverables]
    names = tuple(name_in(d, lang) for d in figures.deliverables)
    groups = [g for g in figures.per_level if g.expected_units]
    labels = tuple(_wrap(level_label(g.levels[0], lang)) for g in groups)
    iso = figures.as_of_date.isocalendar()
    title = t("digest.chart.title", lang, week=iso.week, year=iso.year, reference=figures.reference)

    # Reporting progress: per level, one 100%-stacked bar per deliverable.
    progress = PROGRESS
    slot = (progress.x1 - progress.x0) / max(len(groups), 1)
    width = slot * 0.8 / max(len(keys), 1)
    bars: list[tuple[float, float, float, float, str]] = []
    counts: list[tuple[float, float, str]] = []
    marks: list[tuple[float, str]] = []  # drawn in the cached frame
    for gi, group in enumerate(groups):
        for ki, key in enumerate(keys):
            status = group.units[key]  # every expected unit, as the text's counts
            if not status.expected:
                continue
            x = progress.x0 + slot * (gi + 0.1) + width * (ki + 0.5)
            shares = (status.on_time, status.late, status.missing)
            bottom = 0.0
            for share, color in zip(shares, (ON_TIME, LATE, MISSING), strict=True):
                top = bottom + 100 * share / status.expected
                bars.append((x, width * 0.88, progress.y(bottom), progress.y(top), color))
                bottom = top
            reported = number(status.on_time + status.late, lang)
            counts.append((x, progress.y(101), f"{reported}/{number(status.expected, lang)}"))
            if len(keys) > 1:
                marks.append((x, f"({ki + 1})"))
    threshold = Fraction(str(figures.essay_rate_threshold)).limit_denominator(10_000)
    caption = "- - " + t("digest.chart.threshold", lang, threshold=threshold_text(threshold, lang))
    legend_names = names if len(keys) > 1 else ()
    half = SWATCH[1] / 2
    swatches = tuple(
        (_swatch_x(i), SWATCH[0], STATUS_ROW - half, STATUS_ROW + half, color)
        for i, (color, _label) in enumerate(_status_legend(lang))
    )

    # Essay rate per level, against the campaign's threshold.
    essay = ESSAY_PANEL
    bar_width = (essay.x1 - essay.x0) / max(len(groups), 1) * 0.6
    essays = []
    for gi, group in enumerate(groups):
        rate = group.essay
        value = float(rate.value) * 100 if rate.value is not None else 0.0
        x = essay.x(gi + 0.5, len(groups))
        essays.append((x, bar_width, value, percent(rate.numerator, rate.denominator, lang)))
    return _Plan(
        frame=(lang, title, labels, tuple(marks), caption, not groups, legend_names),
        bars=tuple(bars),
        counts=tuple(counts),
        count_pt=SMALL_PT if len(keys) < 3 else SMALL_PT - 1,
        swatches=swatches,
        essays=tuple(essays),
        threshold=float(threshold) * 100,
    )


@lru_cache(maxsize=64)
def _drawn(plan: _Plan) -> bytes:
    """The PNG of a plan: the cached frame, each person's marks drawn with Pillow on a copy,
    encoded. Kept (about 50 KB each): the same digest asked for again (/tonghop twice, two
    supervisors of the same units that week) is the same bytes."""
    overlay = _Overlay(_frame(*plan.frame))
    for bar in plan.bars:
        overlay.bar(*bar)
    for x, y, count in plan.counts:
        overlay.text_at(x, y, count, plan.count_pt, "md")
    for swatch in plan.swatches:
        overlay.bar(*swatch)
    essay = ESSAY_PANEL
    for x, width, value, label in plan.essays:
        overlay.bar(x, width, essay.y(0), essay.y(value), ESSAY)
        overlay.text_above(x, essay.y(value) + 0.008, label, SMALL_PT)
    overlay.dashed(essay, plan.threshold, THRESHOLD)
    return encode_png(overlay.image)


def render_campaign_chart(campaign: CampaignDigest, lang: str) -> bytes:
    """The PNG for one campaign of a digest."""
    return _drawn(_plan(campaign, lang))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: Image.Image) -> bytes:
    """An 8-bit RGB PNG without metadata (deterministic). Dropping the alpha channel (the
    background is opaque white) makes it smaller and quicker to compress. Written here rather
    than by Pillow, whose encoder tries the five PNG filters on every row (most of its time on a
    chart of flat colours): each row is stored unfiltered and deflated at `COMPRESS_LEVEL`
    (`DEFLATE`), the same pixels in less time, a few KB larger."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    raw = rgb.tobytes()
    stride = width * 3
    rows = b"".join(b"\0" + raw[y : y + stride] for y in range(0, height * stride, stride))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", DEFLATE(rows, COMPRESS_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


def render_chart(data: DigestData) -> bytes:
    """The digest's PNG: one chart per open campaign of the digest, one under the other (a
    digest always has one; with one campaign the image is WIDTH_PX × HEIGHT_PX)."""
    charts = [render_campaign_chart(campaign, data.lang) for campaign in data.campaigns]
    if len(charts) == 1:
        return charts[0]
    combined = Image.new("RGB", (WIDTH_PX, HEIGHT_PX * len(charts)), "white")
    for i, png in enumerate(charts):
        with Image.open(io.BytesIO(png)) as part:
            combined.paste(part.convert("RGB"), (0, HEIGHT_PX * i))
    return encode_png(combined)
