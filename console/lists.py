"""Lists that scale, the way Django admin's ChangeList does it: the query string is the state.

A list page parses `request.GET` with a `ListQueryForm` subclass (search, its filters, `sort`,
`per_page`, `page`). Parsing never fails: a value that does not parse falls back to its default
and leaves a note for the page to show ("Unknown sort order: sorted by name."). A selector takes
the parsed `ListQuery` and returns a `ListPage` through `paginate`, which is Django's Paginator
with out-of-range pages clamped (`page=abc` → the first, `page=99999` → the last, with a note).
The same URL renders the whole page, or only its `#results` partial for htmx (`render_list`).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property

PER_PAGE_CHOICES = (25, 50, 100)
SEARCH_MAX_LENGTH = 200
LAST = "last"


class ListQueryForm(forms.Form):
    """The query string of one list. Subclasses add filter fields and set `sorts` (key → label
    and the ORDER BY it stands for) and `default_sort`; `-key` sorts the other way."""

    sorts: dict[str, tuple[str, tuple[str, ...]]] = {}
    default_sort = ""
    default_per_page = PER_PAGE_CHOICES[0]
    search_label = "Search"
    search_placeholder = ""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    per_page = forms.TypedChoiceField(
        label="Per page",
        required=False,
        coerce=int,
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES],
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any = None, **context: Any) -> None:
        # `context` is what a subclass's choices depend on (the org, the scope catalog).
        self.context = context
        super().__init__(data, auto_id="filter-%s")
        self.fields["q"].label = self.search_label
        if self.search_placeholder:
            self.fields["q"].widget.attrs["placeholder"] = self.search_placeholder
        self.fields["per_page"].initial = self.default_per_page
        # The toolbar lists the filters, then how many per page; the sort lives in the table.
        self.order_fields([*self.filter_names(), "per_page", "sort"])

    def filter_names(self) -> list[str]:
        return [name for name in self.fields if name not in ("per_page", "sort")]

    def clean_sort(self) -> str:
        value = self.cleaned_data.get("sort") or ""
        if value and value.removeprefix("-") not in self.sorts:
            raise forms.ValidationError("Unknown sort order")
        return value

    @cached_property
    def applied(self) -> "ListQueryForm":
        """This form showing what is applied: unusable values replaced by their defaults."""
        return type(self)(self.parse().as_querydict(), **self.context)

    def parse(self) -> "ListQuery":
        """The query as it will be applied, and a note for every value that was not usable."""
        if hasattr(self, "_query"):
            return self._query
        self.is_valid()
        values: dict[str, Any] = {}
        notes: list[str] = []
        for name in self.fields:
            if name in self.errors:
                notes.append(self.fallback_note(name))
                values[name] = self.default(name)
            else:
                value = self.cleaned_data.get(name)
                values[name] = self.default(name) if value in (None, "") else value
        self._query = ListQuery(
            values=values,
            defaults={name: self.default(name) for name in self.fields},
            sorts=self.sorts,
            page=str(self.data.get("page", ""))[:20],
            notes=notes,
            hidden=tuple(name for name, f in self.fields.items() if f.widget.is_hidden),
        )
        return self._query

    def default(self, name: str) -> Any:
        if name == "sort":
            return self.default_sort
        if name == "per_page":
            return self.default_per_page
        if isinstance(self.fields[name], forms.MultipleChoiceField):
            return []
        initial = self.fields[name].initial
        return initial if initial is not None else ""

    def fallback_note(self, name: str) -> str:
        if name == "q":
            return f"The search was longer than {SEARCH_MAX_LENGTH} characters, so it was left out."
        if name == "sort":
            label = self.sorts[self.default_sort.removeprefix("-")][0]
            return f"That sort order is unknown: sorted by {label.lower()} instead."
        if name == "per_page":
            sizes = ", ".join(str(n) for n in PER_PAGE_CHOICES[:-1])
            return f"Show {sizes} or {PER_PAGE_CHOICES[-1]} per page: showing {self.default_per_page}."
        label = self.fields[name].label or name
        hint = getattr(self.fields[name], "fallback_hint", "")
        return (
            f"{label}: that value is not understood, so this filter was left out.{hint}"
        )


@dataclass
class ListQuery:
    """A parsed list query: every field's value (defaults where absent or unusable)."""

    values: dict[str, Any]
    defaults: dict[str, Any]
    sorts: dict[str, tuple[str, tuple[str, ...]]]
    page: str = ""
    notes: list[str] = field(default_factory=list)
    hidden: tuple[
        str, ...
    ] = ()  # set by links, not typed: they travel inside the results

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def per_page(self) -> int:
        return self.values["per_page"]

    @property
    def sort(self) -> str:
        return self.values["sort"]

    @property
    def order_by(self) -> tuple[str, ...]:
        """The ORDER BY of the chosen sort; a descending sort reverses each of its fields."""
        key = self.sort.removeprefix("-")
        fields = self.sorts[key][1]
        if not self.sort.startswith("-"):
            return fields
        return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)

    @property
    def is_filtered(self) -> bool:
        """Whether anything narrows the list (search or a filter; not sort, not page size)."""
        return any(
            self.values[name] != self.defaults[name]
            for name in self.values
            if name not in ("sort", "per_page")
        )

    def as_querydict(self) -> QueryDict:
        """The applied values as form data (what `applied` binds to)."""
        data = QueryDict(mutable=True)
        for name, value in self.values.items():
            if value != self.defaults[name] or name == "per_page":
                values = value if isinstance(value, list | tuple) else [value]
                data.setlist(name, [_param(item) for item in values])
        return data

    def querystring(self, **changes: Any) -> str:
        """`?…` for this query with `changes`, listing only values that differ from defaults, in
        field order, then the page: what the links of the list carry."""
        merged = {**self.values, **changes}
        pairs: list[tuple[str, str]] = []
        for name, value in merged.items():
            if name == "page" or value is None or value == self.defaults.get(name):
                continue
            values = value if isinstance(value, list | tuple) else [value]
            pairs += [(name, _param(item)) for item in values]
        if merged.get("page") not in (None, "", 1):
            pairs.append(("page", str(merged["page"])))
        return "?" + urlencode(pairs) if pairs else "?"

    def sort_link(self, key: str) -> "SortLink":
        """A column header: its link (this column, or the other way when already sorted by it)."""
        label = self.sorts[key][0]
        if self.sort == key:
            return SortLink(label, self.querystring(sort=f"-{key}"), "ascending")
        if self.sort == f"-{key}":
            return SortLink(label, self.querystring(sort=key), "descending")
        return SortLink(label, self.querystring(sort=key), "")

    @property
    def hidden_values(self) -> list[tuple[str, str]]:
        return [
            (name, _param(self.values[name]))
            for name in self.hidden
            if self.values[name] != self.defaults[name]
        ]

    @property
    def sort_links(self) -> dict[str, "SortLink"]:
        return {key: self.sort_link(key) for key in self.sorts}


def _param(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@dataclass(frozen=True)
class SortLink:
    label: str
    url: str
    direction: str  # "ascending", "descending" or "" (aria-sort)


@dataclass
class ListPage:
    """One page of a list: its rows, the page (Django's), the parsed query and notes to show."""

    page: Page
    query: ListQuery
    rows: Sequence[Any]
    notes: list[str]
    is_last_of_many: bool = False  # the last page of a list too long to count

    @property
    def count(self) -> int:
        return self.page.paginator.count

    @property
    def is_capped(self) -> bool:
        return getattr(self.page.paginator, "is_capped", False)

    @property
    def count_display(self) -> str:
        if self.is_capped:
            return f"more than {self.page.paginator.count_limit:,}"
        return f"{self.count:,}"

    @property
    def status(self) -> str:
        """ "Page 2 of 5", "Page 3 of 400+", or "Last page"."""
        if self.is_last_of_many:
            return "Last page"
        pages = self.page.paginator.num_pages
        more = "+" if self.is_capped else ""
        return f"Page {self.page.number:,} of {pages:,}{more}"

    @property
    def links(self) -> dict[str, str]:
        """First, previous, next and last, where they lead somewhere else."""
        page, query = self.page, self.query
        links = {}
        if self.is_last_of_many:
            return {"first": query.querystring(page=1)}
        if page.has_previous():
            links["first"] = query.querystring(page=1)
            links["previous"] = query.querystring(page=page.previous_page_number())
        if page.has_next():
            links["next"] = query.querystring(page=page.next_page_number())
        if page.has_next() or self.is_capped:
            links["last"] = query.querystring(page=LAST)
        return links


class ListPaginator(Paginator):
    """Django's Paginator, made cheap on big tables without changing what it returns: a page's
    rows are first found by primary key (a narrow sort, or an index-only scan, instead of sorting
    whole rows past an OFFSET), then loaded with their relations; and a page past the middle is
    read from the other end in reverse, so the last page costs what the first does.

    With `count_limit`, rows are counted only up to that many (COUNT(*) over a LIMIT: counting
    200,000 audit events on every view was the slowest part of the page): past it the list is
    "more than N", its numbered pages stop there, and `last_page()` reads the oldest rows from
    the other end."""

    def __init__(
        self, *args: Any, count_limit: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.count_limit = count_limit

    @cached_property
    def count(self) -> int:
        items = self.object_list
        if self.count_limit is None or not isinstance(items, QuerySet):
            return super().count
        # Any count_limit + 1 rows count the same: unordered, the database needs no sort and
        # stops at the first ones it finds (a sort read and ordered every match first).
        return items.order_by()[: self.count_limit + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count_limit is not None and self.count > self.count_limit

    def page(self, number: int | str) -> Page:
        items = self.object_list
        if not isinstance(items, QuerySet) or not items.ordered:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.is_capped:
            top = min(top, self.count)
        if bottom > self.count / 2 and not self.is_capped:
            keys = items.reverse().values_list("pk", flat=True)
            keys = list(keys[self.count - top : self.count - bottom])[::-1]
        else:
            keys = list(items.values_list("pk", flat=True)[bottom:top])
        return Page(self._load(keys), number, self)

    def last_page(self) -> Page:
        """The last rows of a list too long to count (`is_capped`), read from the other end."""
        keys = self.object_list.reverse().values_list("pk", flat=True)
        return Page(self._load(list(keys[: self.per_page])[::-1]), self.num_pages, self)

    def _load(self, keys: list[Any]) -> list[Any]:
        loaded = (
            {row.pk: row for row in self.object_list.filter(pk__in=keys)}
            if keys
            else {}
        )
        return [loaded[key] for key in keys if key in loaded]


def paginate(
    items: QuerySet | Sequence[Any],
    query: ListQuery,
    *,
    rows: Callable[[list[Any]], Sequence[Any]] | None = None,
    count_limit: int | None = None,
) -> ListPage:
    """The page `query.page` asks for, clamped to the pages there are: `last` (or a number past
    the end) is the last page, anything that is not a number is the first; a note says so.
    `rows` turns the page's objects into what the template shows (default: the objects);
    `count_limit` counts no further than that (see ListPaginator)."""
    paginator = ListPaginator(items, query.per_page, count_limit=count_limit)
    notes = list(query.notes)
    raw = query.page.strip()
    if raw == LAST:
        number = LAST
    elif not raw:
        number = 1
    elif not raw.isdigit():
        number = 1
        notes.append("That page number is not a number: showing the first page.")
    elif int(raw) < 1:
        number = 1
        notes.append("Pages start at 1: showing the first page.")
    elif int(raw) > paginator.num_pages and paginator.is_capped:
        number = LAST
        notes.append(
            f"Page {int(raw):,} is further than this list counts: showing the last page."
        )
    elif int(raw) > paginator.num_pages:
        number = paginator.num_pages
        notes.append(
            f"There is no page {int(raw):,}: showing the last page, {number:,}."
        )
    else:
        number = int(raw)
    if number == LAST and paginator.is_capped:
        page = paginator.last_page()
    else:
        page = paginator.page(paginator.num_pages if number == LAST else number)
    is_last_of_many = number == LAST and paginator.is_capped
    objects = list(page.object_list)
    return ListPage(
        page=page,
        query=query,
        rows=rows(objects) if rows else objects,
        notes=notes,
        is_last_of_many=is_last_of_many,
    )


def render_list(
    request: HttpRequest, template: str, context: dict[str, Any]
) -> HttpResponse:
    """The whole page, or only its `#results` partial when htmx asks (not for a history restore,
    which needs the whole page). The address htmx pushes is the query as applied: only what
    differs from the defaults, and nothing that was not usable."""
    htmx = getattr(request, "htmx", None)
    is_fragment = bool(htmx) and not htmx.history_restore_request
    response = render(
        request, f"{template}#results" if is_fragment else template, context
    )
    if is_fragment and "listing" in context:
        listing = context["listing"]
        page = "last" if listing.is_last_of_many else listing.page.number
        query = listing.query.querystring(page=page)
        response["HX-Push-Url"] = request.path + (query if query != "?" else "")
    patch_vary_headers(response, ["HX-Request"])
    return response


def search_terms(text: str) -> Iterable[str]:
    """The words of a search box, at most a few (every word must match)."""
    return text.split()[:5]
