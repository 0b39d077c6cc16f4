"""A campaign as a campaign file: its stored definition written as the YAML `parse_definition`
reads back to the same definition (what the web form saved, to keep, share or load elsewhere
with `cadrebot campaign load`)."""

from __future__ import annotations

import re

import yaml

from storage.campaigns.definition import CampaignDefinition

HEADER = (
    "# cadrebot campaign file: {reference}\n"
    "# Load it with:   cadrebot campaign load <this file>\n"
    "# The format is described at the top of `cadrebot campaign template --start <date>`.\n\n"
)


def definition_text(definition: CampaignDefinition) -> str:
    """The definition as a campaign file (unset values left out, Vietnamese kept as is)."""
    data = definition.model_dump(mode="json", exclude_none=True)
    info = definition.campaign
    data["campaign"]["digest"]["time"] = info.digest.time.strftime("%H:%M")
    quiet = data["campaign"]["reminders"]["quiet_hours"]
    quiet["start"] = info.reminders.quiet_hours.start.strftime("%H:%M")
    quiet["end"] = info.reminders.quiet_hours.end.strftime("%H:%M")
    body = yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    reference = definition.campaign.reference.replace("\n", " ")
    return HEADER.format(reference=reference) + body


def file_name(definition: CampaignDefinition) -> str:
    """A file name for the export: dot-13-KH-TU.yaml (ASCII letters, digits and dashes)."""
    reference = definition.campaign.reference
    safe = re.sub(r"[^A-Za-z0-9]+", "-", reference).strip("-") or "campaign"
    return f"dot-{safe[:60]}.yaml"
