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
from storage.i18n import t
from storage.i18n.formatting import levels_phrase, with_figures
from storage.models import Person
from storage.organisation import organisation_name
from storage.shortcomings import find_shortcomings
from storage.status_text import status_line


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
    header = f"# {t('demo.transcript.title')}\n\n{t('demo.transcript.intro')}\n"
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
        digest_text.write_text(t("demo.digest.none") + "\n", encoding="utf-8")

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
    paragraph = narrative(figures, found, lang="vi", organisation=organisation_name(sim.settings))
    narrative_file.write_text(paragraph + "\n", encoding="utf-8")

    summary = output / "summary.txt"
    facts = proactive_facts(await sim.outbox_rows())
    summary.write_text(summary_text(sim, figures, facts), encoding="utf-8")
    return DemoFiles(transcript, digest_text, digest_chart, workbook, narrative_file, summary)


def summary_text(sim: Simulation, figures: Figures, facts: Proactive, lang: str = "vi") -> str:
    stats = sim.stats
    total = figures.total
    lines = [
        t("demo.summary.title", lang),
        with_figures(
            "demo.summary.people", lang, units=sim.world.unit_count, people=len(sim.users)
        ),
        with_figures(
            "demo.summary.conversations",
            lang,
            conversations=stats.conversations,
            updates=stats.updates,
        ),
        with_figures(
            "demo.summary.reports", lang, reports=stats.reports, corrections=stats.corrections
        ),
        with_figures("demo.summary.rejected", lang, count=stats.rejected_answers),
        *proactive_summary(facts, lang),
    ]
    for info in figures.deliverables:
        status = total.units.get(info.key)
        if status is None:
            continue
        lines.append(status_line("demo.summary.deliverable", info, status, lang))
    for group in figures.combined:
        essay, attendance = group.essay, group.attendance
        lines.append(
            with_figures(
                "demo.summary.group",
                lang,
                group=group.label(lang) or levels_phrase(group.levels, lang),
                essay_rate=essay,
                essays=essay.numerator,
                members=essay.denominator,
                attendance_rate=attendance,
            )
        )
    lines.append(with_figures("demo.summary.action_plan", lang, rate=total.action_plan))
    return "\n".join(lines) + "\n"
