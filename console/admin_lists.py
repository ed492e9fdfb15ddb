"""Admin changelists over very large tables (issued tokens, audit events).

Django's changelist counts every row of the table on every view (COUNT(*) over 100,000s of
rows, the slowest statement of the page). When nothing narrows the list (no search, no filter),
PostgreSQL already knows about how many rows the table has (pg_class.reltuples, kept by
ANALYZE/autovacuum): the paginator uses that estimate. Any search or filter counts exactly.
"""

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Model, QuerySet
from django.http import HttpRequest

EXACT_BELOW = 20_000  # smaller tables are counted exactly: it is cheap and always right
PAGING_PARAMS = {"p", "o"}  # the page and the sort: they do not narrow the list


def table_row_estimate(model: type[Model]) -> int:
    """PostgreSQL's estimate of the table's rows (-1 before its first ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else -1


class EstimatedCountPaginator(Paginator):
    def __init__(self, *args: Any, estimate: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.estimate = estimate

    @property
    def count(self) -> int:
        return self.estimate


class LargeTableAdmin(admin.ModelAdmin):
    """A ModelAdmin whose unfiltered changelist pages with the table's estimated size."""

    show_full_result_count = False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        if connection.vendor == "postgresql" and not set(request.GET) - PAGING_PARAMS:
            estimate = table_row_estimate(self.model)
            if estimate >= EXACT_BELOW:
                return EstimatedCountPaginator(
                    queryset,
                    per_page,
                    orphans,
                    allow_empty_first_page,
                    estimate=estimate,
                )
        return super().get_paginator(
            request, queryset, per_page, orphans, allow_empty_first_page
        )
