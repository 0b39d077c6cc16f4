"""The written report paragraph, from figures computed on both databases."""

from __future__ import annotations

from datetime import date

from bot.narrative import narrative
from storage.db import Database
from storage.figures import compute_figures
from storage.shortcomings import find_shortcomings
from tests.figures_fixtures import Builder, article_campaign, reference_tree, utc

ORGANISATION = "Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam"
# 23:00 local on 30/9/2016, the day the article counts to.
SEPT_30_EVENING = utc(2016, 9, 30, 16)


async def _text(db: Database, ref_factory, as_of, lang="vi", combined=()) -> str:
    async with db.write() as session:
        ref = await ref_factory(session)
    async with db.read() as session:
        figures = await compute_figures(
            session=session, campaign_id=ref.campaign_id, as_of=as_of, combined=combined
        )
        found = await find_shortcomings(session=session, campaign_id=ref.campaign_id, as_of=as_of)
    return narrative(figures, found, lang=lang, organisation=ORGANISATION)


async def test_the_articles_numbers(db: Database) -> None:
    text = await _text(
        db, article_campaign, SEPT_30_EVENING, combined=[("tinh", "huyen"), ("co_so",)]
    )
    first, second = text.split("\n\n")
    assert first.startswith(
        "Theo số liệu tổng hợp của Ban Tuyên giáo và Dân vận Tỉnh ủy Sông Lam đến ngày "
        "30/9/2016, 100% các chi, đảng bộ đã tổ chức học tập, quán triệt Nghị quyết (5/5 đơn vị)."
    )
    assert (
        "Tỷ lệ cán bộ, đảng viên viết bài thu hoạch đạt "
        "94,8% đối với cấp tỉnh và cấp huyện; 92,7% đối với cấp cơ sở." in first
    )
    assert (
        "Qua thống kê, đến ngày 30/9/2016, 100% các chi, đảng bộ xây dựng chương trình hành động "
        "thực hiện Nghị quyết (5/5 đơn vị); trên 90% (93,5%) cấp ủy, người đứng đầu cơ quan, "
        "đơn vị xây dựng kế hoạch hành động (187/200)." in first
    )
    # Attendance: (400 + 320 + 280 + 500 + 500) / (420 + 330 + 300 + 520 + 510) = 2000 / 2080.
    assert "Tỷ lệ đảng viên tham gia học tập, quán triệt đạt 96,2% (2.000/2.080 đồng chí)." in first
    # 4 of the 5 committees that reported have not collected every head's action plan: that is
    # not "một số" (some) but most of them, so the count and the share are written (#13.5).
    assert second == (
        "Bên cạnh đó vẫn còn một số hạn chế: 4/5 đơn vị (80,0%) chưa tập hợp đầy đủ kế hoạch "
        "hành động của cấp ủy, người đứng đầu cơ quan, đơn vị (trong số các đơn vị đã báo cáo kế "
        "hoạch hành động)."
    )


async def test_per_level_when_no_groups_are_asked(db: Database) -> None:
    text = await _text(db, article_campaign, SEPT_30_EVENING)
    # tinh 380/400, huyen (303 + 265)/(320 + 280) = 568/600, co_so 927/1000.
    assert "95,0% đối với cấp tỉnh; 94,7% đối với cấp huyện; 92,7% đối với cấp cơ sở." in text


async def test_shortcomings_paragraph(db: Database) -> None:
    text = await _text(db, reference_tree, utc(2016, 10, 5))
    first, second = text.split("\n\n")
    # 6 of 7 expected units held the session; C22 (deactivated) is not counted.
    assert "100%" not in first.split(".")[0]
    assert "85,7% các chi, đảng bộ đã tổ chức học tập, quán triệt Nghị quyết (6/7 đơn vị)" in first
    assert "71,4% các chi, đảng bộ xây dựng chương trình hành động" in first
    assert "88,9% cấp ủy" in first  # 24/27: under 90%, no "trên 90%"
    assert second == (
        "Bên cạnh đó vẫn còn một số hạn chế: "
        "một số đơn vị chưa đảm bảo thời gian học tập, quán triệt (1 đơn vị học dưới 2 buổi); "
        "số ít cán bộ, đảng viên chưa viết bài thu hoạch (1 đơn vị có tỷ lệ viết bài dưới 90%); "
        "một số đảng bộ chưa tập hợp đầy đủ kế hoạch hành động của cấp ủy, người đứng đầu cơ quan, "
        # H2 reported it has no program; C12 has not reported it: "chưa báo cáo", not "chưa xây
        # dựng" (#13.5).
        "đơn vị (2 đơn vị); 1 đơn vị chưa xây dựng chương trình hành động dù đã quá hạn; "
        # C21, C12, H2: each counted once although C21 misses two deliverables.
        "3 đơn vị chưa báo cáo dù đã quá hạn."
    )


async def test_english(db: Database) -> None:
    text = await _text(
        db, article_campaign, SEPT_30_EVENING, lang="en", combined=[("tinh", "huyen"), ("co_so",)]
    )
    assert "94.8% at province level and district level; 92.7% at grassroots level." in text
    assert "over 90% (93.5%) of committees" in text
    assert "30 Sep 2016" in text
    assert text.split("\n\n")[1] == (
        "Some shortcomings remain: 4 of 5 units (80.0%) have not collected every action plan of "
        "their committees and heads of agencies and units (among the units that reported action "
        "plans)."
    )


async def test_english_words_follow_the_share(db: Database) -> None:
    text = await _text(db, reference_tree, utc(2016, 10, 5), lang="en")
    second = text.split("\n\n")[1]
    # 1 of 6 short sessions: "some"; 1 of 5 essay rates: "a few"; 2 of 5 plans: "some".
    assert ": some units did not give the study its full time (" in second
    assert "; a few cadres and members did not write a reflection essay (" in second
    assert "some committees have not collected every action plan" in second


async def test_nothing_expected(db: Database) -> None:
    async def empty(session):
        b = Builder(session)
        await b.levels()
        cid = await b.campaign()
        await b.deliverable(cid, "hoi_nghi", {"tinh": date(2016, 6, 30)})
        return type("R", (), {"campaign_id": cid})()

    text = await _text(db, empty, SEPT_30_EVENING)
    assert text.startswith(
        "Theo số liệu tổng hợp đến ngày 30/9/2016, "
        "chưa có chi, đảng bộ nào trong phạm vi phải báo cáo."
    )
    assert "—" not in text


def _with_threshold(threshold: float):
    return lambda session: reference_tree(session, essay_rate_threshold=threshold)


async def test_the_word_follows_the_share_of_units_checked(db: Database) -> None:
    # Under 92%: H2 90,9% and C11 89,3%, 2 of the 5 units with members attending (40%): not
    # "số ít" (a quarter or more) but still "một số" (under half).
    text = await _text(db, _with_threshold(0.92), utc(2016, 10, 5))
    assert (
        "; một số cán bộ, đảng viên chưa viết bài thu hoạch (2 đơn vị có tỷ lệ viết bài dưới 92%);"
    ) in text
    assert "số ít" not in text


async def test_a_widespread_shortcoming_gets_its_count_and_share(db: Database) -> None:
    # Under 95%: TU, H2 and C11, 3 of the 5 units checked: most of them, no quantifier word.
    async with db.write() as session:
        ref = await _with_threshold(0.95)(session)
    async with db.read() as session:
        args = {"session": session, "campaign_id": ref.campaign_id, "as_of": utc(2016, 10, 5)}
        figures = await compute_figures(**args)
        found = await find_shortcomings(**args)
    vi = narrative(figures, found, lang="vi", organisation=ORGANISATION)
    assert (
        "; cán bộ, đảng viên chưa viết đủ bài thu hoạch ở 3/5 đơn vị (60,0%) (tỷ lệ viết bài dưới "
        "95%, trong số các đơn vị đã báo cáo số bài thu hoạch);"
    ) in vi
    assert "số ít" not in vi
    en = narrative(figures, found, lang="en", organisation=ORGANISATION)
    assert (
        "; not every cadre and member wrote a reflection essay in 3 of 5 units (60.0%) (an essay "
        "rate under 95%, among the units that reported essays);"
    ) in en
    assert "a few" not in en
