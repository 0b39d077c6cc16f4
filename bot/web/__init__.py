"""The web console: a server-rendered, mobile-first site for supervisors (their units' figures,
drill-down, late units, unit pages, the workbook) and the department (uploads, campaigns, who has
joined), opened from a one-time chat link (`/web`) or as a Telegram Mini App.

Starlette + Jinja2; every page reads and writes through `storage` and checks the viewer's scope
(`storage.access`) on the server; every text comes from the catalog (`web.*`)."""
