"""Campaigns declared in YAML: parsing with line-numbered errors, and loading into the database.

The file format (the built-in template `storage/templates/nq-xii.yaml` documents it in full)::

    campaign:
      name: ...                      # text
      reference: 13-KH/TU            # unique; loading the same reference again updates
      resolution: ...
      start_date: 2016-05-01         # YYYY-MM-DD
      end_date: 2016-12-31           # optional
      timezone: Asia/Ho_Chi_Minh     # default
      scope: TU_BN                   # optional unit code (only that subtree takes part)
      min_session_halfdays: 2        # a shorter session is a shortcoming
      essay_rate_threshold: 0.9      # an essay rate under it is a shortcoming
      reminders: {offsets_days: [-3, -1, 0], overdue_every_days: 2, overdue_cap: 5,
                  send_hour: 8, quiet_hours: {start: "21:00", end: "07:00"},
                  escalation_grace_days: 3}
      digest: {weekday: monday, time: "07:30"}
      review_required: false         # true: the level above approves or returns each report
    deliverables:
      - key: hoi_nghi
        name_vi: ...
        name_en: ...
        deadlines: {tinh: 2016-06-10, huyen: 2016-07-15}   # the levels it applies to
        fields: [...]                # storage.forms.FormField
        rules: [...]                 # storage.forms.Rule

`parse_definition(text)` returns a `CampaignDefinition` or raises `DefinitionError`, whose
`problems` each name the YAML line and the path (`Dòng 14, deliverables[0].fields[2].type: ...`).
`load_campaign` also checks the level codes and the scope against the database, then upserts.

Modules: `definition` (the YAML declaration, parsed with line-numbered problems), `store` (the
campaigns in the database: load, list, get, the deliverables and forms of a campaign),
`template` (the built-in campaigns and which fits a unit tree, the kinds of deliverable a form
adds, the time zones),
`export` (a stored campaign written back as a campaign file).
"""

from __future__ import annotations

from storage.campaigns.definition import (
    WEEKDAYS,
    CampaignDefinition,
    CampaignInfo,
    DefinitionError,
    DeliverableDecl,
    Digest,
    LineProblem,
    QuietHours,
    Reminders,
    definition_problems,
    format_loc,
    parse_definition,
    validate_definition,
)
from storage.campaigns.export import definition_text, file_name
from storage.campaigns.store import (
    definition_of,
    deliverable_counts,
    deliverables_of,
    form_of,
    get_campaign,
    list_campaigns,
    load_campaign,
)
from storage.campaigns.template import (
    DEFAULT_TIMEZONE,
    TEMPLATE_NAME,
    TEMPLATES,
    TWO_LEVEL_TEMPLATE,
    add_deliverable,
    builtin_template,
    deliverable_kinds,
    fitting_templates,
    template_for_tree,
    template_text,
    timezones,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "TEMPLATES",
    "TEMPLATE_NAME",
    "TWO_LEVEL_TEMPLATE",
    "WEEKDAYS",
    "CampaignDefinition",
    "CampaignInfo",
    "DefinitionError",
    "DeliverableDecl",
    "Digest",
    "LineProblem",
    "QuietHours",
    "Reminders",
    "add_deliverable",
    "builtin_template",
    "definition_of",
    "definition_problems",
    "definition_text",
    "deliverable_counts",
    "deliverable_kinds",
    "deliverables_of",
    "file_name",
    "fitting_templates",
    "form_of",
    "format_loc",
    "get_campaign",
    "list_campaigns",
    "load_campaign",
    "parse_definition",
    "template_for_tree",
    "template_text",
    "timezones",
    "validate_definition",
]
