"""Write the demo's files: transcript, digest and chart, workbook, narrative, summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.demo.proactive import Proactive, proactive_facts
from bot.demo.proactive import summary_lines as proactive_summary
from bot.demo.simulate import Simulation
from bot.export import write_xlsx
from bot.narrative import narrative
from scheduler.digest import compose_digest
from storage.figures import Figures, compute_figures
from storage.i18n.formatting import levels_phrase, number, percent
from storage.models import Person
from storage.shortcomings import find_shortcomings


@dataclass(frozen=True)
class DemoFiles:
    transcript: Path
    digest_text: Path
    digest_chart: Path | None
    workbook: Path
    narrative: Path
    summary: Path

    def all(self) -> list[Path]:
        files = [self.transcript, self.digest_text, self.workbook, self.narrative, self.summary]
        return files + ([self.digest_chart] if self.digest_chart else [])


async def final_figures(sim: Simulation, as_of: datetime) -> Figures:
    async with sim.db.read() as session:
        # The campaign's reporting groups (cấp tỉnh và cấp huyện; cấp cơ sở) by default.
        return await compute_figures(
            session=session, campaign_id=sim.world.campaign_id, as_of=as_of
        )


async def write_outputs(sim: Simulation, output: Path) -> DemoFiles:
    as_of = sim.clock()
    transcript = output / "transcript.md"
    header = (
        "# Bản ghi trình diễn cadrebot\n\n"
        "Tỉnh và con người trong bản ghi này đều là hư cấu. Các cuộc trò chuyện dưới đây đi qua "
        "đúng mã nguồn của bot (không cần mạng, không cần token); đồng hồ được mô phỏng từ ngày "
        "mở đợt học tập đến sau hạn xây dựng chương trình hành động.\n"
    )
    transcript.write_text(header + "\n" + sim.transcript.text(), encoding="utf-8")

    digest_text = output / "tong-hop-tuan.txt"
    digest_chart: Path | None = None
    async with sim.db.read() as session:
        person = None
        if sim.supervisor_ids:
            person = await session.get(Person, sim.supervisor_ids[0])
        message = await compose_digest(session, person, as_of) if person else None
    if message is not None:
        digest_text.write_text(message.text + "\n", encoding="utf-8")
        if message.photo:
            digest_chart = output / "tong-hop-tuan.png"
            digest_chart.write_bytes(message.photo)
    else:
        digest_text.write_text("(không có bản tổng hợp)\n", encoding="utf-8")

    workbook = output / "so-lieu.xlsx"
    async with sim.db.read() as session:
        await write_xlsx(
            session=session, campaign_id=sim.world.campaign_id, as_of=as_of, output=workbook
        )

    figures = await final_figures(sim, as_of)
    async with sim.db.read() as session:
        found = await find_shortcomings(
            session=session, campaign_id=sim.world.campaign_id, as_of=as_of
        )
    narrative_file = output / "bao-cao.txt"
    narrative_file.write_text(narrative(figures, found, lang="vi") + "\n", encoding="utf-8")

    summary = output / "summary.txt"
    facts = proactive_facts(await sim.outbox_rows())
    summary.write_text(summary_text(sim, figures, facts), encoding="utf-8")
    return DemoFiles(transcript, digest_text, digest_chart, workbook, narrative_file, summary)


def summary_text(sim: Simulation, figures: Figures, facts: Proactive) -> str:
    stats = sim.stats
    total = figures.total
    lines = [
        "cadrebot — tóm tắt bản trình diễn",
        f"Đơn vị: {sim.world.unit_count}; người đã đăng ký qua mã mời: {len(sim.users)}",
        f"Cuộc trò chuyện: {stats.conversations}; tin nhắn và lần bấm nút: {stats.updates}",
        f"Báo cáo đã xác nhận: {stats.reports}; lần cập nhật số liệu: {stats.corrections}",
        f"Câu trả lời sai được bot giải thích và hỏi lại: {stats.rejected_answers}",
        *proactive_summary(facts),
    ]
    for info in figures.deliverables:
        status = total.status.get(info.key)
        if status is None:
            continue
        lines.append(
            f"{info.name_vi}: {status.reported}/{status.expected} đơn vị đã báo cáo "
            f"({status.on_time} đúng hạn, {status.late} trễ hạn, {status.missing} chưa báo cáo)"
        )
    for group in figures.combined:
        essay, attendance = group.essay, group.attendance
        lines.append(
            f"{group.label('vi') or levels_phrase(group.levels, 'vi')}: tỷ lệ viết bài thu hoạch "
            f"{percent(essay.numerator, essay.denominator, 'vi')} "
            f"({number(essay.numerator)}/{number(essay.denominator)}); đảng viên dự học tập "
            f"{percent(attendance.numerator, attendance.denominator, 'vi')}"
        )
    plan = total.action_plan
    lines.append(
        f"Người đứng đầu có kế hoạch hành động: {percent(plan.numerator, plan.denominator, 'vi')}"
    )
    return "\n".join(lines) + "\n"
