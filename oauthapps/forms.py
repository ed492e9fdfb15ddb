"""The wizard's step forms (STYLE.md §6), and the app management forms that reuse them. Each one
parses and normalises its input; none writes.

Every step form takes the owning `org` and the `catalog` (scope catalog seen from that org) so the
wizard can build them all the same way.
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from oauthapps import scopes as scope_grammar
from oauthapps.key_forms import ClientAuthFields
from oauthapps.models import (
    TTL_DEFAULT_MINUTES,
    TTL_MAX_MINUTES,
    TTL_MIN_MINUTES,
    OAuthApp,
)
from oauthapps.network_forms import AllowedNetworksForm
from oauthapps.selectors import ScopeCatalog, oauth_app_name_taken
from oauthapps.services import (
    APP_DESCRIPTION_MAX_LENGTH,
    APP_NAME_MAX_LENGTH,
    OVERLAP_DEFAULT_HOURS,
    OVERLAP_MAX_HOURS,
    OVERLAP_MIN_HOURS,
)
from orgs import permissions
from orgs.models import Membership, Organization

APP_TYPE_HELP = {
    OAuthApp.AppType.SERVER_TO_SERVER: (
        "Choose this when your application needs direct access to another server, without a "
        "user signing in. It uses the OAuth 2.0 client credentials grant: your app trades its "
        "credentials for an access token."
    ),
}


class StepForm(forms.Form):
    """`actor`: the member creating the app, when what they may choose depends on their role."""

    def __init__(
        self,
        *args: Any,
        org: Organization,
        catalog: ScopeCatalog,
        actor: Membership | None = None,
        **kwargs: Any,
    ) -> None:
        self.org = org
        self.catalog = catalog
        self.actor = actor
        super().__init__(*args, **kwargs)


class AppTypeForm(ClientAuthFields, StepForm):
    """The app type, and how the app authenticates (client secret or private key JWT)."""

    field_order = ["app_type", "client_auth", "public_keys", "jwks_uri"]

    app_type = forms.ChoiceField(
        label="App type",
        choices=OAuthApp.AppType.choices,
        initial=OAuthApp.AppType.SERVER_TO_SERVER,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Select the type of app to create.",
            "invalid_choice": "Select one of the app types listed.",
        },
    )

    def choices_with_help(self) -> list[tuple[Any, str]]:
        return [
            (radio, APP_TYPE_HELP.get(radio.data["value"], ""))
            for radio in self["app_type"]
        ]


class RegisterForm(StepForm):
    name = forms.CharField(
        label="Name",
        max_length=APP_NAME_MAX_LENGTH,
        help_text="Unique within this organization, up to 100 characters. Shown to Owners who add the app.",
        error_messages={
            "required": "Enter a name for the app.",
            "max_length": "Use at most %(limit_value)d characters for the name (you entered %(show_value)d).",
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=APP_DESCRIPTION_MAX_LENGTH,
        help_text="Optional. What the app does and who runs it.",
        error_messages={
            "max_length": "Keep the description to %(limit_value)d characters (you entered %(show_value)d)."
        },
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if oauth_app_name_taken(org=self.org, name=name):
            raise forms.ValidationError(
                f"An app named “{name}” already exists in {self.org.name}. Choose another name."
            )
        return name


_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+[.,]\d*|[.,]\d+)$")
TTL_RANGE_MESSAGE = f"The Access Token TTL must be between {TTL_MIN_MINUTES} and {TTL_MAX_MINUTES} minutes."


class TTLForm(StepForm):
    access_token_ttl_minutes = forms.CharField(
        label="Access Token TTL (minutes)",
        initial=TTL_DEFAULT_MINUTES,
        help_text=(
            f"How long each access token stays valid. Default {TTL_DEFAULT_MINUTES} minutes; "
            f"minimum {TTL_MIN_MINUTES} minute, maximum {TTL_MAX_MINUTES} minutes (5 hours)."
        ),
        error_messages={
            "required": f"Enter the Access Token TTL in minutes, from {TTL_MIN_MINUTES} to {TTL_MAX_MINUTES}."
        },
        widget=forms.NumberInput(
            attrs={
                "min": TTL_MIN_MINUTES,
                "max": TTL_MAX_MINUTES,
                "step": 1,
                "inputmode": "numeric",
                "autofocus": True,
                "class": "input-ttl",
            }
        ),
    )

    def clean_access_token_ttl_minutes(self) -> int:
        raw = self.cleaned_data["access_token_ttl_minutes"].strip()
        if _DECIMAL.match(raw):
            raise forms.ValidationError(
                "Enter a whole number of minutes, without decimals (for example 30)."
            )
        if not _WHOLE_NUMBER.match(raw):
            raise forms.ValidationError(
                "Enter the TTL as a number of minutes, for example 30."
            )
        digits = raw.lstrip("+-").lstrip("0") or "0"
        if raw.startswith("-") and digits != "0":
            raise forms.ValidationError(
                f"{TTL_RANGE_MESSAGE} The minimum is {TTL_MIN_MINUTES} minute."
            )
        # Compare lengths first: int() refuses very long digit strings.
        if len(digits) > len(str(TTL_MAX_MINUTES)) or int(digits) > TTL_MAX_MINUTES:
            raise forms.ValidationError(
                f"{TTL_RANGE_MESSAGE} The maximum is {TTL_MAX_MINUTES} minutes (5 hours)."
            )
        if int(digits) < TTL_MIN_MINUTES:
            raise forms.ValidationError(
                f"{TTL_RANGE_MESSAGE} The minimum is {TTL_MIN_MINUTES} minute."
            )
        return int(digits)


class ScopesForm(StepForm):
    """Org roles and service roles. A group's "select all roles" box is a real field, expanded on
    the server, so it works without JavaScript; with it, console.js ticks the roles as you click."""

    scopes = forms.MultipleChoiceField(
        label="Scopes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "“%(value)s” is not a scope you can choose. Pick from the list."
        },
    )
    select_all = forms.MultipleChoiceField(
        label="Select all roles",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "“%(value)s” is not a group you can select. Pick from the list."
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = self.catalog.choices
        self.fields["select_all"].choices = self.catalog.group_choices
        if not self.is_bound and (
            "scopes" in self.initial or "select_all" in self.initial
        ):
            # Coming back to this step: show what "select all" stood for as ticked roles.
            chosen = self._expand(
                self.initial.get("scopes", []), self.initial.get("select_all", [])
            )
            self.initial["scopes"] = chosen
            self.initial["select_all"] = self._full_groups(chosen)

    def _expand(self, scopes: list[str], groups: list[str]) -> list[str]:
        """The chosen roles, with every role of each "select all" group the creator may give."""
        chosen = set(scopes)
        for key in groups:
            if group := self.catalog.group(key):
                chosen |= group.scopes - self.withheld
        return scope_grammar.normalize(chosen)

    def _full_groups(self, scopes: list[str]) -> list[str]:
        chosen = set(scopes)
        return [
            group.key
            for group in self.catalog.groups
            if group.scopes - self.withheld and group.scopes - self.withheld <= chosen
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "scopes" in cleaned and "select_all" in cleaned:
            chosen = self._expand(cleaned["scopes"], cleaned["select_all"])
            if not chosen:
                self.add_error(
                    "scopes",
                    "Choose at least one scope: an organization role or a service role.",
                )
            elif self.actor is not None and (
                refusal := permissions.scope_refusal(self.actor, chosen)
            ):
                self.add_error("scopes", refusal)
            cleaned["scopes"] = chosen
        return cleaned

    @property
    def withheld(self) -> frozenset[str]:
        """The organization roles the creator may not give (above their own role): shown, but
        not offered (orgs/permissions.py)."""
        if self.actor is None:
            return frozenset()
        return permissions.withheld_org_scopes(self.actor)

    def withheld_note(self) -> str:
        return permissions.withheld_note(self.actor) if self.actor is not None else ""

    def selected(self) -> set[str]:
        return set(self["scopes"].value() or [])

    def selected_groups(self) -> set[str]:
        return set(self["select_all"].value() or [])


class ReviewForm(StepForm):
    """Nothing to enter: the review shows the earlier steps, re-validated, before Create."""


# App management (issue 5): the edit page reuses the wizard's step forms --------------------


class EditRegisterForm(RegisterForm):
    """The wizard's name and description, for an existing app: its own name is not a clash."""

    def __init__(self, *args: Any, app: OAuthApp, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if oauth_app_name_taken(org=self.org, name=name, exclude_app_id=self.app.pk):
            raise forms.ValidationError(
                f"An app named “{name}” already exists in {self.org.name}. Choose another name."
            )
        return name


class AppEditForms:
    """Edit = the wizard's Register, Access Token TTL and Define scopes steps on one page, with
    the same fields, bounds and messages, prefilled from the app; and its IP allowlist."""

    def __init__(
        self, data: QueryDict | None, *, app: OAuthApp, catalog: ScopeCatalog
    ) -> None:
        common: dict[str, Any] = {"org": app.organization, "catalog": catalog}
        self.register = EditRegisterForm(
            data,
            prefix="register",
            app=app,
            initial={"name": app.name, "description": app.description},
            **common,
        )
        self.ttl = TTLForm(
            data,
            prefix="ttl",
            initial={"access_token_ttl_minutes": app.access_token_ttl_minutes},
            **common,
        )
        self.scopes = ScopesForm(
            data, prefix="scopes", initial={"scopes": list(app.scopes)}, **common
        )
        self.networks = AllowedNetworksForm(
            data, prefix="networks", networks=list(app.allowed_networks)
        )
        self.forms: tuple[forms.Form, ...] = (
            self.register,
            self.ttl,
            self.scopes,
            self.networks,
        )

    def is_valid(self) -> bool:
        results = [
            form.is_valid() for form in self.forms
        ]  # every form shows its errors
        return all(results)

    @property
    def cleaned_data(self) -> dict[str, Any]:
        """What `services.oauth_app_update` takes."""
        data: dict[str, Any] = {}
        for form in self.forms:
            data.update(form.cleaned_data)
        data.pop("select_all", None)
        return data

    def show_service_error(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the form owning each field."""
        errors = (
            exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
        )
        for field, field_errors in errors.items():
            owner = next((f for f in self.forms if field in f.fields), self.register)
            owner.add_error(field if field in owner.fields else None, field_errors)


class SecretChangeForm(forms.Form):
    """Regenerate (and the base of Rotate): carries which secret the user saw, see
    services.secret_fingerprint. Nothing to type."""

    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)


class RotateSecretForm(SecretChangeForm):
    overlap_hours = forms.IntegerField(
        label="Overlap (hours)",
        initial=OVERLAP_DEFAULT_HOURS,
        min_value=OVERLAP_MIN_HOURS,
        max_value=OVERLAP_MAX_HOURS,
        help_text=(
            f"How long the current secret keeps working next to the new one. Default "
            f"{OVERLAP_DEFAULT_HOURS} hours; from {OVERLAP_MIN_HOURS} hour to "
            f"{OVERLAP_MAX_HOURS} hours (7 days)."
        ),
        error_messages={
            "required": "Enter how many hours the current secret keeps working.",
            "invalid": "Enter a whole number of hours, for example 48.",
            "min_value": f"The overlap must be at least {OVERLAP_MIN_HOURS} hour.",
            "max_value": f"The overlap can be at most {OVERLAP_MAX_HOURS} hours (7 days).",
        },
        widget=forms.NumberInput(
            attrs={"class": "input-ttl", "step": 1, "inputmode": "numeric"}
        ),
    )


class DeleteAppForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the app’s name to confirm",
        max_length=APP_NAME_MAX_LENGTH + 50,
        error_messages={"required": "Type the app’s name to confirm."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, app: OAuthApp, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def clean_confirm_name(self) -> str:
        typed = self.cleaned_data["confirm_name"].strip()
        if typed != self.app.name:
            raise forms.ValidationError(
                f"That is not the app’s name. Type {self.app.name} exactly to delete it."
            )
        return typed


class AddToOrgsForm(forms.Form):
    organizations = forms.MultipleChoiceField(
        label="Organizations",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one organization.",
            "invalid_choice": "You can add the app only to organizations where you are an "
            "Owner and that do not have it yet.",
        },
    )

    def __init__(self, *args: Any, orgs: list[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orgs = {str(org.pk): org for org in orgs}
        self.fields["organizations"].choices = [
            (org_id, org.name) for org_id, org in self.orgs.items()
        ]

    def chosen(self) -> list[Organization]:
        return [self.orgs[org_id] for org_id in self.cleaned_data["organizations"]]


class ClientIdForm(forms.Form):
    client_id = forms.CharField(
        label="Client ID",
        max_length=255,
        help_text="The app’s client ID, as its owners see it on the app’s page or in its credentials JSON.",
        error_messages={
            "required": "Paste the client ID of the app to add.",
            "max_length": "That is longer than any client ID. Paste the client ID only.",
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}
        ),
    )
