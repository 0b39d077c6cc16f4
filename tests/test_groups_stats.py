"""/thongke and the weekly digest show the campaign's reporting groups by default (#13.3)."""

from __future__ import annotations

import re

from tests.test_telegram_supervision import ADMIN, SUPERVISOR, Setup, setup

__all__ = ["setup"]


def _plain(html: str) -> str:
    return re.sub(r"</?pre>", "", html)  # Telegram sets the table in <pre>


async def test_stats_show_the_campaigns_reporting_groups(setup: Setup) -> None:
    text = (await setup.harness.send("/thongke", ADMIN)).text()
    assert "Cấp tỉnh và cấp huyện" in text and "Cấp cơ sở" in text
    assert "Chi bộ trực thuộc" not in text  # levels are not listed one by one


async def test_the_digest_table_has_a_row_per_reporting_group(setup: Setup) -> None:
    """The built-in campaign's groups: the province and its districts pooled in one row, the
    grassroots units in another; a supervisor's row counts only the units they follow."""
    table = {
        who: [
            line.split()
            for line in _plain((await setup.harness.send("/tonghop", user)).text()).splitlines()
            if line.startswith(("Cấp tỉnh", "Cấp huyện", "Cấp cơ sở", "Chi bộ"))
        ]
        for who, user in (("supervisor", SUPERVISOR), ("admin", ADMIN))
    }
    nothing_yet = ["0/1", "0/1", "0/1", "—"]
    assert table["supervisor"] == [
        ["Cấp", "tỉnh", "và", "cấp", "huyện", *nothing_yet],  # the district H
        ["Cấp", "cơ", "sở", "0/2", "0/2", "0/2", "—"],  # CS1 and CS2
    ]
    assert table["admin"] == [
        ["Cấp", "tỉnh", "và", "cấp", "huyện", "0/3", "0/3", "0/3", "—"],  # T, H, H2
        ["Cấp", "cơ", "sở", "0/3", "0/3", "0/3", "—"],
    ]
