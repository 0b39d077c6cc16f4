"""Build the demo world in a fresh database: tree, campaign, people, invites."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from bot.demo.province import Province, build_province, person_name
from storage.campaigns import load_campaign, parse_definition, template_text
from storage.db import Database
from storage.invites import create_invite, create_invites_for_units
from storage.migrate import upgrade
from storage.models import ROLE_ADMIN, ROLE_REPORTER, ROLE_SUPERVISOR, Unit
from storage.units import ensure_default_levels, import_units, subtree_units


@dataclass(frozen=True)
class Invitation:
    role: str
    unit_code: str | None
    unit_name: str | None
    person_name: str
    code: str


@dataclass
class World:
    province: Province
    campaign_id: int
    campaign_reference: str
    units_by_level: dict[str, int]
    reporters: list[Invitation] = field(default_factory=list)
    supervisors: list[Invitation] = field(default_factory=list)
    admins: list[Invitation] = field(default_factory=list)
    supervised: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unit_count(self) -> int:
        return sum(self.units_by_level.values())


async def build_world(
    db: Database, *, now: datetime, units: int = 200, seed: int = 2016, two_level: bool = False
) -> World:
    """Create the schema, the fictional province, the built-in campaign and one invite per
    reporter (every unit), per supervisor (Standing Committee members following districts) and
    for the admin (the Propaganda Department)."""
    rng = random.Random(seed)
    province = build_province(units=units, seed=seed, two_level=two_level)
    await upgrade(db.engine)
    async with db.write() as session:
        await ensure_default_levels(session=session)
        await import_units(session=session, rows=province.rows, now=now)
        campaign = await load_campaign(
            session=session,
            definition=parse_definition(template_text(two_level=two_level)),
            now=now,
        )
        all_units: list[Unit] = await subtree_units(session=session, root_code=None)
        by_code = {unit.code: unit for unit in all_units}
        units_by_level: dict[str, int] = {}
        for unit in all_units:
            units_by_level[unit.level_code] = units_by_level.get(unit.level_code, 0) + 1
        assert campaign.id is not None
        world = World(
            province=province,
            campaign_id=campaign.id,
            campaign_reference=campaign.reference,
            units_by_level=units_by_level,
        )

        reporters = [u for u in all_units if u.level_code in {"co_so", "chi_bo", "huyen", "tinh"}]
        codes = await create_invites_for_units(
            session=session, role_kind=ROLE_REPORTER, units=reporters, now=now
        )
        for unit, code in codes:
            world.reporters.append(
                Invitation(ROLE_REPORTER, unit.code, unit.name, person_name(rng), code)
            )

        # Supervisors follow districts; in the two-level structure, communes and wards.
        districts = province.codes_at("huyen") or province.codes_at("co_so")
        for index in range(min(3, len(districts))):
            followed = districts[index::3]
            name = person_name(rng)
            # A supervisor invite names one unit; the other units are assigned after onboarding.
            _invite, code = await create_invite(
                session=session,
                role_kind=ROLE_SUPERVISOR,
                unit_id=by_code[followed[0]].id,
                person_name=name,
                now=now,
            )
            world.supervisors.append(
                Invitation(ROLE_SUPERVISOR, followed[0], by_code[followed[0]].name, name, code)
            )
            world.supervised[name] = followed

        # A person's own name (greetings say "Chào đồng chí <name>!"); the transcript labels
        # this speaker by the organisation ("Ban Tuyên giáo và Dân vận"). Distinct from every
        # other invitee: the simulation finds the admin by name.
        taken = {i.person_name for i in [*world.reporters, *world.supervisors]}
        admin_name = person_name(rng)
        while admin_name in taken:
            admin_name = person_name(rng)
        _invite, code = await create_invite(
            session=session, role_kind=ROLE_ADMIN, unit_id=None, person_name=admin_name, now=now
        )
        world.admins.append(Invitation(ROLE_ADMIN, None, None, admin_name, code))
    return world
