"""Organization › Audit log: who did what to which app, member or service, and when."""

from uuid import UUID

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from oauthapps import selectors
from oauthapps.forms import AuditFilterForm
from orgs.models import AuditEvent
from orgs.permissions import Action, org_access

EVENTS_PER_PAGE = 50


@require_GET
@org_access(Action.AUDIT_VIEW)
def audit_log(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    choices = selectors.audit_filter_choices(org=request.org)
    form = AuditFilterForm(
        request.GET, actions=choices.actions, apps=choices.apps, actors=choices.actors
    )
    form.is_valid()  # an unknown value is shown as an error and that filter is left out
    filters = {key: value for key, value in form.cleaned_data.items() if value}
    events = selectors.audit_events_for_org(
        org=request.org,
        action=filters.get("action", ""),
        app_id=filters.get("app", ""),
        actor_id=filters.get("actor", ""),
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "oauthapps/audit_log.html",
        {
            "org": request.org,
            "form": form,
            "page": page,
            "rows": [(event, describe(event)) for event in page],
            "query": query.urlencode(),
            "is_filtered": bool(filters),
        },
    )


def describe(event: AuditEvent) -> tuple[str, str, list[str]]:
    """The action's label, the kind of target, and the event's details as short lines (ids,
    names, scopes; the audit log never holds secrets)."""
    label = selectors.AUDIT_ACTIONS.get(event.action, event.action)
    kind = selectors.AUDIT_TARGETS.get(event.target_type, event.target_type)
    data = event.data or {}
    lines = []
    for field, change in (data.get("changes") or {}).items():
        lines.append(
            f"{field.replace('_', ' ')}: {_show(change.get('from'))} → {_show(change.get('to'))}"
        )
    if "from" in data and "to" in data:
        lines.append(f"scopes: {_show(data['from'])} → {_show(data['to'])}")
    for key in (
        "role",
        "scopes",
        "ttl_minutes",
        "overlap_hours",
        "tokens_revoked",
        "reason",
    ):
        if key in data:
            lines.append(f"{key.replace('_', ' ')}: {_show(data[key])}")
    if "before" in data and "after" in data:
        lines.append(f"{_show(data['before'])} → {_show(data['after'])}")
    return label, kind, lines


def _show(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {val}" for key, val in value.items())
    return str(value) if value not in (None, "") else "—"
