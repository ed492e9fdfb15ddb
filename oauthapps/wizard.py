"""The "Create New OAuth App" wizard (DESIGN.md §4, STYLE.md §6).

State travels in the page: every POST carries all steps' fields (the current step visibly, the
others as hidden inputs) and the wizard re-validates every step up to the current one each time,
so nothing sent back is trusted. One URL, one view; adding a step means editing `STEPS`.
"""

from typing import Any, NamedTuple

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import QueryDict

from oauthapps.forms import (
    AppTypeForm,
    RegisterForm,
    ReviewForm,
    ScopesForm,
    StepForm,
    TTLForm,
)
from oauthapps.selectors import ScopeCatalog, ScopeGroup, ScopeOption, scope_catalog
from orgs.models import Membership, Organization


class Step(NamedTuple):
    slug: str
    title: str
    form_class: type[StepForm]
    lead: str


STEPS: tuple[Step, ...] = (
    Step(
        "type",
        "Select app type",
        AppTypeForm,
        "Choose the kind of OAuth app to register.",
    ),
    Step(
        "register",
        "Register",
        RegisterForm,
        "Register your client by entering a name and description.",
    ),
    Step(
        "ttl",
        "Access Token TTL",
        TTLForm,
        "The Access Token time to live (TTL) defines the time period the token is valid.",
    ),
    Step(
        "scopes",
        "Define scopes",
        ScopesForm,
        "Scopes control which areas of an organization your client can access: which role in "
        "the organization, and which services at which permission level.",
    ),
    Step(
        "review",
        "Review and create",
        ReviewForm,
        "Check what will be created, then click Create to generate the client credentials.",
    ),
)
NEXT, BACK = "next", "back"
ADD_TO_ORG_TITLE = "Add to organization"


def progress(current: int) -> list[tuple[str, str]]:
    """The progress bar: the wizard's steps, then the optional add-to-organization step (whose
    index is `len(STEPS)`)."""
    titles = [step.title for step in STEPS] + [ADD_TO_ORG_TITLE]
    return [
        (title, "done" if i < current else "current" if i == current else "todo")
        for i, title in enumerate(titles)
    ]


class Wizard:
    """One request's view of the wizard: which step to show, with which form, and — once every
    step is valid and the user pressed Next on the last one — the merged data to create from."""

    def __init__(
        self,
        data: QueryDict | None,
        *,
        org: Organization,
        actor: Membership | None = None,
    ) -> None:
        self.org = org
        self.actor = actor  # the creator: their role bounds the scopes they may give
        self.catalog: ScopeCatalog = scope_catalog(org=org)
        self.data = data if data is not None else QueryDict()
        self.cleaned_data: dict[str, Any] | None = None
        if data is None:
            self._show(0, bound=False)
        else:
            self._navigate(data)

    # Navigation ---------------------------------------------------------------------------

    def _navigate(self, data: QueryDict) -> None:
        current = self._index_of(data.get("step", ""))
        if data.get("nav") == BACK:
            self._show(max(current - 1, 0), bound=False)
            return
        cleaned: dict[str, Any] = {}
        for index in range(current + 1):
            # An earlier step that no longer validates was tampered with (or its data went
            # stale, e.g. the name was taken meanwhile): send the user back to it.
            self._show(index, bound=True)
            if not self.form.is_valid():
                return
            cleaned.update(self.form.cleaned_data)
        if current + 1 < len(STEPS):
            self._show(current + 1, bound=False)
            return
        # Next on the last step with every step valid: ready to create.
        self.cleaned_data = cleaned

    @property
    def is_complete(self) -> bool:
        return self.cleaned_data is not None

    def service_data(self) -> dict[str, Any]:
        """The merged steps, as `services.oauth_app_create` takes them."""
        assert self.cleaned_data is not None
        data = dict(self.cleaned_data)
        data.pop("select_all", None)
        return data

    def show_service_error(self, exc: ValidationError) -> None:
        """Re-open the earliest step owning a field the service rejected, with its errors."""
        errors = (
            exc.error_dict
            if hasattr(exc, "error_dict")
            else {NON_FIELD_ERRORS: exc.error_list}
        )
        owners = {
            field: index
            for index, step in enumerate(STEPS)
            for field in step.form_class.base_fields
        }
        index = min(owners.get(field, len(STEPS) - 1) for field in errors)
        self.cleaned_data = None
        self._show(index, bound=True)
        self.form.is_valid()
        for field, field_errors in errors.items():
            if owners.get(field, len(STEPS) - 1) == index:
                key = field if field in self.form.fields else None
                # The step's own check may already say the same (a name taken meanwhile).
                shown = set(self.form.errors.get(key or NON_FIELD_ERRORS, []))
                fresh = [
                    error
                    for error in ValidationError(field_errors).messages
                    if error not in shown
                ]
                if fresh:
                    self.form.add_error(key, fresh)

    # Rendering ----------------------------------------------------------------------------

    def _index_of(self, slug: str) -> int:
        return next((i for i, step in enumerate(STEPS) if step.slug == slug), 0)

    def _form(self, index: int, *, bound: bool) -> StepForm:
        step = STEPS[index]
        kwargs: dict[str, Any] = {
            "prefix": step.slug,
            "org": self.org,
            "catalog": self.catalog,
            "actor": self.actor,
        }
        if bound:
            return step.form_class(self.data, **kwargs)
        return step.form_class(initial=self._typed(index), **kwargs)

    def _typed(self, index: int) -> dict[str, Any]:
        """What was typed into a step before, as initial values (Back/Next keep it)."""
        form_class = STEPS[index].form_class
        initial: dict[str, Any] = {}
        for name, field in form_class.base_fields.items():
            key = f"{STEPS[index].slug}-{name}"
            if key in self.data:
                initial[name] = (
                    self.data.getlist(key)
                    if isinstance(field, forms.MultipleChoiceField)
                    else self.data.get(key)
                )
        return initial

    def _show(self, index: int, *, bound: bool) -> None:
        self.index = index
        self.step = STEPS[index]
        self.form = self._form(index, bound=bound)

    @property
    def progress(self) -> list[tuple[str, str]]:
        """(title, "done" | "current" | "todo") for the progress bar."""
        return progress(len(STEPS) if self.is_complete else self.index)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def count(self) -> int:
        return len(STEPS)

    @property
    def is_first(self) -> bool:
        return self.index == 0

    @property
    def is_last(self) -> bool:
        return self.index == len(STEPS) - 1

    @property
    def carried(self) -> list[tuple[str, str]]:
        """Hidden inputs for every other step's fields, exactly as they were sent."""
        names = [
            f"{step.slug}-{name}"
            for step in STEPS
            if step != self.step
            for name in step.form_class.base_fields
        ]
        return [(name, value) for name in names for value in self.data.getlist(name)]

    def summary(self) -> dict[str, Any]:
        """What the review step shows: every earlier step's cleaned values, scopes grouped."""
        values: dict[str, Any] = {}
        for index in range(len(STEPS) - 1):
            form = self._form(index, bound=True)
            if form.is_valid():
                values.update(form.cleaned_data)
        scopes = values.get("scopes", [])
        grouped: list[tuple[ScopeGroup, list[ScopeOption]]] = self.catalog.grouped(
            scopes
        )
        return {
            **values,
            "app_type_label": dict(AppTypeForm.base_fields["app_type"].choices).get(
                values.get("app_type"), ""
            ),
            "client_auth_label": dict(
                AppTypeForm.base_fields["client_auth"].choices
            ).get(values.get("client_auth"), ""),
            "grouped_scopes": grouped,
            "missing_groups": self.catalog.missing_groups(scopes),
        }
