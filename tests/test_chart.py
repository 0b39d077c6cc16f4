"""The digest chart: a valid, small, deterministic 800×450 PNG, in both languages, also for a
campaign with no figures yet."""

from __future__ import annotations

import io
import sys
from dataclasses import replace

import matplotlib.image
from PIL import Image

from scheduler.digest import DigestData, digest_data
from scheduler.digest_chart import HEIGHT_PX, WIDTH_PX, _drawn, _frame, render_chart
from storage.db import Database
from storage.models import ROLE_ADMIN
from tests.factories import make_person, pk
from tests.figures_fixtures import reference_tree, utc

NOW = utc(2016, 10, 3, 1)


async def _data(db: Database) -> DigestData:
    async with db.write() as session:
        await reference_tree(session)
        admin = await make_person(session, "Vũ Văn Quản", roles=[(ROLE_ADMIN, None)])
    async with db.read() as session:
        data = await digest_data(session=session, person_id=pk(admin), now=NOW)
    assert data is not None
    return data


async def test_chart_is_a_small_valid_png(db: Database) -> None:
    data = await _data(db)
    png = render_chart(data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 5_000 < len(png) < 80_000
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (WIDTH_PX, HEIGHT_PX)
        assert not set(image.info) & {"Software", "Creation Time", "date:create"}
        # Not a blank image: the bars' colours are there.
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 16) or []}
    assert (0x00, 0x72, 0xB2) in colours  # on time
    assert (0x00, 0x9E, 0x73) in colours  # essay rate


async def test_chart_is_deterministic_and_language_specific(db: Database) -> None:
    data = await _data(db)
    first = render_chart(data)
    assert render_chart(data) == first
    assert render_chart(replace(data, lang="en")) != first


def _without_essays(data: DigestData) -> DigestData:
    """The same digest with no essay written anywhere (each person's own bars and figures)."""
    campaign = data.campaigns[0]
    figures = campaign.figures
    cells = {
        key: replace(cell, sums={**cell.sums, "essays": 0}) for key, cell in figures.cells.items()
    }
    changed = replace(campaign, figures=replace(figures, cells=cells))
    return replace(data, campaigns=(changed, *data.campaigns[1:]))


async def test_the_frame_is_drawn_once_a_week_and_the_bars_are_each_persons(db: Database) -> None:
    data = await _data(db)
    _frame.cache_clear()
    _drawn.cache_clear()
    first = render_chart(data)
    other = render_chart(_without_essays(data))
    assert other != first  # the essay bars and percentages are each digest's own
    assert (_frame.cache_info().hits, _frame.cache_info().misses) == (1, 1)
    with Image.open(io.BytesIO(other)) as image:
        colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 16) or []}
    assert (0x00, 0x9E, 0x73) not in colours  # no essay bar is drawn at 0%
    render_chart(await _early(db, data))  # another week: another title, another frame
    assert _frame.cache_info().misses == 2


async def test_the_same_digest_asked_again_is_the_same_png_drawn_once(db: Database) -> None:
    data = await _data(db)
    _drawn.cache_clear()
    first = render_chart(data)
    assert render_chart(data) == first
    assert (_drawn.cache_info().hits, _drawn.cache_info().misses) == (1, 1)
    changed = render_chart(_without_essays(data))
    assert changed != first and _drawn.cache_info().misses == 2
    with Image.open(io.BytesIO(first)) as image:
        assert image.mode == "RGB" and image.size == (WIDTH_PX, HEIGHT_PX)


async def test_chart_renders_without_pyplot_figures_left_open(db: Database) -> None:
    data = await _data(db)
    render_chart(data)
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


async def test_chart_before_anything_is_reported(db: Database) -> None:
    data = await _data(db)
    early = await _early(db, data)
    png = render_chart(early)
    assert png.startswith(b"\x89PNG")


async def _early(db: Database, data: DigestData) -> DigestData:
    """The same person's digest at the campaign's start: every unit expected, none reported."""
    async with db.read() as session:
        early = await digest_data(session=session, person_id=data.person_id, now=utc(2016, 5, 20))
    assert early is not None
    assert all(s.reported == 0 for s in early.campaigns[0].figures.total.units.values())
    return early


async def test_dollar_signs_in_the_reference_are_text_not_mathtext(db: Database) -> None:
    data = await _data(db)
    first = data.campaigns[0]
    hostile = replace(first, figures=replace(first.figures, reference="13-KH/TU $\\foo$"))
    data = replace(data, campaigns=type(data.campaigns)([hostile, *data.campaigns[1:]]))
    png = render_chart(data)  # matplotlib's mathtext parser raised ValueError on this
    assert png.startswith(b"\x89PNG")


async def test_the_chart_stands_alone_names_counts_safe_colours_and_patterns(
    db: Database,
) -> None:
    data = await _data(db)
    png = render_chart(data)
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 16) or []}
    # Okabe-Ito: blue (on time), orange (late), vermillion (missing); never red/green only.
    assert (0x00, 0x72, 0xB2) in colours
    assert (0x2E, 0x7D, 0x32) not in colours and (0xC6, 0x28, 0x28) not in colours
    # The deliverables' names are drawn in the legend: other names, another image.
    first = data.campaigns[0]
    renamed = tuple(replace(d, name_vi=d.name_vi + " (sửa)") for d in first.figures.deliverables)
    other = replace(first, figures=replace(first.figures, deliverables=renamed))
    assert render_chart(replace(data, campaigns=(other, *data.campaigns[1:]))) != png


async def test_two_open_campaigns_give_one_image_with_a_chart_for_each(db: Database) -> None:
    data = await _data(db)
    first = data.campaigns[0]
    second = replace(first, figures=replace(first.figures, reference="14-KH/TU"))
    png = render_chart(replace(data, campaigns=(first, second)))
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (WIDTH_PX, 2 * HEIGHT_PX)
        top = image.crop((0, 0, WIDTH_PX, HEIGHT_PX)).tobytes()
        bottom = image.crop((0, HEIGHT_PX, WIDTH_PX, 2 * HEIGHT_PX)).tobytes()
    assert top != bottom  # each campaign's own title
    with Image.open(io.BytesIO(render_chart(replace(data, campaigns=(first,))))) as alone:
        assert (
            alone.tobytes()
            == Image.open(io.BytesIO(png)).crop((0, 0, WIDTH_PX, HEIGHT_PX)).tobytes()
        )
