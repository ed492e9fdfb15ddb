"""The OAuth Apps list and the audit log: their query forms and the selectors that return a page.

See console/lists.py for how a list query is parsed and paginated.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from console.lists import ListPage, ListQuery, ListQueryForm, paginate, search_terms
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import (
    APP_TARGET,
    AUDIT_ACTIONS,
    ScopeCatalog,
    ScopeGroup,
    ScopeOption,
    grant_is_pending,
)
from orgs.models import AuditEvent, Organization

# --- OAuth Apps ----------------------------------------------------------------------------------

KINDS = [
    ("", "All apps"),
    ("owned", "Owned by this organization"),
    ("added", "Added from other organizations"),
    ("disabled", "Disabled"),
]


class AppListForm(ListQueryForm):
    search_label = "Search apps"
    search_placeholder = "Name, description or client ID"
    sorts = {
        "name": ("Name", ("name", "id")),
        "ttl": ("Token TTL", ("access_token_ttl_minutes", "name", "id")),
        "created": ("Created", ("created", "id")),
    }
    default_sort = "name"

    kind = forms.ChoiceField(label="Show", required=False, choices=KINDS)
    service = forms.ChoiceField(label="Service", required=False)

    def __init__(self, data: Any = None, *, catalog: ScopeCatalog) -> None:
        super().__init__(data, catalog=catalog)
        self.fields["service"].choices = [
            ("", "Any service"),
            *((g.key, g.title) for g in catalog.groups if g.is_service),
        ]


@dataclass(frozen=True)
class AppRow:
    """What the list shows of one app, seen from the org whose list it is."""

    is_owned: bool
    grouped_scopes: list[tuple[ScopeGroup, list[ScopeOption]]]  # asked / granted here
    grant_here: AppGrant | None
    is_pending: (
        bool  # added from elsewhere, and its scopes changed since this org granted
    )
    added_to: list[str]  # orgs an owned app was added to (only the owner sees them all)


def oauth_apps_page(
    *, org: Organization, query: ListQuery, catalog: ScopeCatalog
) -> ListPage:
    """One page of the apps the org owns or was added to, for the parsed query: search in name,
    description and client ID; owned / added / disabled and service filters; a sort. Rows are
    (app, AppRow); three queries (the count, the page, the page's grants with their orgs)."""
    # The ids of apps added here, as one (hashed) subquery rather than an EXISTS per app.
    added_here = AppGrant.objects.filter(organization=org).values("app_id")
    apps = OAuthApp.objects.select_related("organization", "created_by")
    kind = query["kind"]
    if kind == "owned":
        apps = apps.filter(organization=org)
    elif kind == "added":
        apps = apps.filter(pk__in=added_here).exclude(organization=org)
    else:
        apps = apps.filter(Q(organization=org) | Q(pk__in=added_here))
    if kind == "disabled":
        apps = apps.filter(is_disabled=True)
    if query["service"]:
        apps = apps.filter(scopes__icontains=f'"svc:{query["service"]}:')
    for term in search_terms(query["q"]):
        apps = apps.filter(
            Q(name__icontains=term)
            | Q(description__icontains=term)
            | Q(client_id__icontains=term)
        )
    apps = apps.order_by(*query.order_by).prefetch_related(
        Prefetch(
            "grants",
            queryset=AppGrant.objects.select_related("organization").order_by(
                "organization__name"
            ),
        )
    )
    return paginate(
        apps, query, rows=lambda page: [_app_row(app, org, catalog) for app in page]
    )


def _app_row(
    app: OAuthApp, org: Organization, catalog: ScopeCatalog
) -> tuple[OAuthApp, AppRow]:
    grants = list(app.grants.all())
    grant_here = next((g for g in grants if g.organization_id == org.pk), None)
    is_owned = app.organization_id == org.pk
    scopes = app.scopes if is_owned or grant_here is None else grant_here.scopes
    return app, AppRow(
        is_owned=is_owned,
        grouped_scopes=catalog.grouped(scopes),
        grant_here=grant_here,
        is_pending=not is_owned
        and grant_here is not None
        and grant_is_pending(grant=grant_here, app=app),
        added_to=[g.organization.name for g in grants] if is_owned else [],
    )


# --- The audit log -------------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"


class AuditListForm(ListQueryForm):
    default_per_page = 50
    search_label = "Search"
    search_placeholder = "Who, app, member or service"
    sorts = {"time": ("When", ("created_at", "id"))}
    default_sort = "-time"

    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "All actions"), *AUDIT_ACTIONS.items()],
    )
    date_from = forms.DateField(label="From", required=False, widget=DateInput)
    date_to = forms.DateField(label="To", required=False, widget=DateInput)
    # Set by links (an app's page, a person): ids, shown as a removable chip.
    app = forms.CharField(
        label="App", required=False, max_length=64, widget=forms.HiddenInput
    )
    actor = forms.IntegerField(
        label="Who", required=False, min_value=1, widget=forms.HiddenInput
    )

    def __init__(self, data: Any = None, *, org: Organization) -> None:
        self.org = org
        super().__init__(data, org=org)
        self.app_label = self.actor_label = ""
        for name in ("date_from", "date_to"):
            self.fields[name].fallback_hint = " Use a date like 2026-11-27."

    def clean_app(self) -> str:
        app_id = self.cleaned_data.get("app") or ""
        if app_id:
            self.app_label = _latest_label(
                AuditEvent.objects.filter(
                    organization=self.org, target_type=APP_TARGET, target_id=app_id
                ),
                "target_label",
            )
            if not self.app_label:
                raise forms.ValidationError("No app with this id is in the log.")
        return app_id

    def clean_actor(self) -> int | None:
        actor_id = self.cleaned_data.get("actor")
        if actor_id:
            self.actor_label = _latest_label(
                AuditEvent.objects.filter(organization=self.org, actor_id=actor_id),
                "actor_label",
            )
            if not self.actor_label:
                raise forms.ValidationError("Nobody with this id acted in this org.")
        return actor_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            cleaned["date_from"], cleaned["date_to"] = end, start
        return cleaned


def _latest_label(events: QuerySet[AuditEvent], field: str) -> str:
    return (
        events.order_by("-created_at", "-id").values_list(field, flat=True).first()
        or ""
    )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def audit_events_for_query(
    *, org: Organization, query: ListQuery
) -> QuerySet[AuditEvent]:
    """The org's audit events matching the parsed query (search in who and what, action, dates,
    app, actor), in the chosen order: what the page and the CSV export both show."""
    events = AuditEvent.objects.filter(organization=org)
    for term in search_terms(query["q"]):
        events = events.filter(
            Q(actor_label__icontains=term) | Q(target_label__icontains=term)
        )
    if query["action"]:
        events = events.filter(action=query["action"])
    if query["date_from"]:
        events = events.filter(created_at__gte=_start_of(query["date_from"]))
    if query["date_to"]:
        events = events.filter(
            created_at__lt=_start_of(query["date_to"] + timedelta(days=1))
        )
    if query["app"]:
        events = events.filter(target_type=APP_TARGET, target_id=query["app"])
    if query["actor"]:
        events = events.filter(actor_id=query["actor"])
    return events.order_by(*query.order_by)


# Counting every event of a big org on every view is the slowest part of the log; past this many
# it says "more than 10,000 events" (narrow it with dates) and Last reads the oldest directly.
AUDIT_COUNT_LIMIT = 10_000


def audit_events_page(*, org: Organization, query: ListQuery) -> ListPage:
    """One page of the org's audit log for the parsed query; counted up to AUDIT_COUNT_LIMIT
    (three queries: the capped count, the page's keys, its rows)."""
    events = audit_events_for_query(org=org, query=query)
    return paginate(events, query, count_limit=AUDIT_COUNT_LIMIT)


def audit_events_stream(
    *, org: Organization, query: ListQuery, chunk_size: int = 2_000
) -> Iterator[AuditEvent]:
    """Every event matching the query, fetched in chunks (the CSV export streams these)."""
    return audit_events_for_query(org=org, query=query).iterator(chunk_size=chunk_size)
