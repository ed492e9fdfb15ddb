"""Organization › Audit log: who did what to which app, member or service, and when; searchable,
filterable, paginated, and exportable as CSV with the same filters."""

import csv
from collections.abc import Iterator
from datetime import UTC
from uuid import UUID

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from console.lists import render_list
from oauthapps import selectors
from oauthapps.lists import AuditListForm, audit_events_page, audit_events_stream
from orgs.models import AuditEvent, Membership
from orgs.permissions import Action, org_access

ROLE_LABELS = dict(Membership.Role.choices)
FIELD_LABELS = {"is_developer": "Developer", "ttl_minutes": "token TTL (minutes)"}
CSV_COLUMNS = ["time (UTC)", "who", "action", "target type", "target", "details"]


@require_GET
@org_access(Action.AUDIT_VIEW)
def audit_log(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    form = AuditListForm(request.GET, org=request.org)
    listing = audit_events_page(org=request.org, query=form.parse())
    context = {
        "org": request.org,
        "form": form,
        "listing": listing,
        "rows": [(event, describe(event)) for event in listing.rows],
        "export_query": listing.query.querystring(),
        "chip_links": {
            name: listing.query.querystring(**{name: None}) for name in ("app", "actor")
        },
    }
    return render_list(request, "oauthapps/audit_log.html", context)


@require_GET
@org_access(Action.AUDIT_VIEW)
def audit_log_export(request: AuthedRequest, org_id: UUID) -> StreamingHttpResponse:
    form = AuditListForm(request.GET, org=request.org)
    events = audit_events_stream(org=request.org, query=form.parse())
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events:
        label, kind, lines = describe(event)
        yield writer.writerow(
            [
                safe_cell(value)
                for value in (
                    event.created_at.astimezone(UTC).isoformat(),
                    event.actor_label,
                    label,
                    kind,
                    event.target_label,
                    "; ".join(lines),
                )
            ]
        )


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage
    return, which some strip first) gets a leading apostrophe (OWASP's CSV injection advice)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def describe(event: AuditEvent) -> tuple[str, str, list[str]]:
    """The action's label, the kind of target, and the event's details as short readable lines
    (names, roles, scopes; the audit log never holds secrets)."""
    label = selectors.AUDIT_ACTIONS.get(event.action, event.action)
    kind = selectors.AUDIT_TARGETS.get(event.target_type, event.target_type)
    data = event.data or {}
    lines = []
    for name, change in (data.get("changes") or {}).items():
        lines.append(
            f"{_field(name)}: {_show(change.get('from'))} → {_show(change.get('to'))}"
        )
    if "from" in data and "to" in data:
        lines.append(f"scopes: {_show(data['from'])} → {_show(data['to'])}")
    if "role" in data:
        lines.append(f"role: {_role(data)}")
    for key in ("scopes", "ttl_minutes", "overlap_hours", "tokens_revoked", "reason"):
        if key in data:
            lines.append(f"{_field(key)}: {_show(data[key])}")
    if "before" in data and "after" in data:
        lines.append(f"{_show(data['before'])} → {_show(data['after'])}")
    return label, kind, lines


def _field(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


def _role(data: dict) -> str:
    """ "Administrator", or "Member, Developer": a membership as people read it."""
    role = ROLE_LABELS.get(data.get("role"), str(data.get("role") or "—"))
    return f"{role}, Developer" if data.get("is_developer") else role


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "none"
    if isinstance(value, dict):
        if "role" in value:
            return _role(value)
        return ", ".join(f"{_field(key)}: {_show(val)}" for key, val in value.items())
    return str(value) if value not in (None, "") else "—"
