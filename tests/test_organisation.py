"""The organisation's name is a setting (CADREBOT_ORGANISATION_NAME): a stranger's refusal on
both channels, the report paragraph and the web console's pages say the configured name."""

from __future__ import annotations

import httpx
import pytest

from storage.organisation import organisation
from storage.settings import Settings
from tests.test_channel_scenarios import Setup, setup
from tests.test_web_pages import client, web
from tests.web_fixtures import WebWorld, link_for, sign_in, token_of

__all__ = ["client", "setup", "web"]

RENAMED = "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam"


@pytest.fixture(autouse=True)
def renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the channels' settings are built (an autouse fixture runs first)."""
    monkeypatch.setenv("CADREBOT_ORGANISATION_NAME", RENAMED)


async def test_a_strangers_refusal_names_the_configured_organisation(setup: Setup) -> None:
    [refusal] = await setup.driver.say("stranger", "xin chào")
    assert refusal.startswith("Xin lỗi, đồng chí chưa được cấp quyền sử dụng trợ lý này.")
    assert f"vui lòng liên hệ {RENAMED} để nhận mã mời" in refusal


async def test_the_report_paragraph_of_supervision_names_it_too(setup: Setup) -> None:
    texts = await setup.driver.say("admin", "/thongke")
    assert any(f"Theo số liệu tổng hợp của {RENAMED} đến ngày" in text for text in texts), texts


async def test_the_web_consoles_pages_name_it(web: WebWorld, client: httpx.AsyncClient) -> None:
    """The console's settings are read with the renamed organisation (the autouse fixture)."""
    token = token_of(await link_for(web, web.world.stranger_id))
    assert (await client.post("/w", data={"token": token})).status_code == 303
    no_role = await client.get("/")
    assert no_role.status_code == 403 and f"Đồng chí liên hệ {RENAMED}." in no_role.text
    await sign_in(client, web, web.admin_id)
    report = await client.get("/desk/report")
    assert f"Theo số liệu tổng hợp của {RENAMED} đến ngày" in report.text


def test_unset_settings_take_the_catalogs_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CADREBOT_ORGANISATION_NAME")
    default = organisation(Settings(_env_file=None))
    assert default.name == "Ban Tuyên giáo và Dân vận Tỉnh ủy"
    assert (default.parent, default.header, default.symbol) == (
        "Tỉnh ủy",
        "Ban Tuyên giáo và Dân vận",
        "BTGDVTU",
    )
    english = organisation(Settings(_env_file=None), "en")
    assert english.name.startswith("the Propaganda and Mass Mobilisation Department")
    # A configured name is a proper name: the same in both languages.
    assert organisation(Settings(_env_file=None, organisation_name=RENAMED), "en").name == RENAMED
