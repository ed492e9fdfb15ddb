import re

from django import forms

from orgs.models import (
    SECRET_EXPIRY_MAX_DAYS,
    SECRET_EXPIRY_MIN_DAYS,
    SECRET_EXPIRY_RANGE_MESSAGE,
    Membership,
    Organization,
)


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name"]
        labels = {"name": "Organization name"}
        widgets = {"name": forms.TextInput(attrs={"autofocus": True})}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        return name


class _RoleFormMixin:
    """Offers only the roles the acting member may give (see `permissions.assignable_roles`)."""

    def limit_roles(self, roles: list[tuple[str, str]] | None) -> None:
        if roles is not None:
            self.fields["role"].choices = roles
        self.fields["role"].error_messages["invalid_choice"] = (
            "Choose one of the listed roles. Only Owners can make someone an Owner."
        )


class MemberInviteForm(_RoleFormMixin, forms.Form):
    email = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"placeholder": "name@example.com"}),
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )
    is_developer = forms.BooleanField(
        required=False, label="Developer", help_text="May create and manage OAuth apps."
    )

    def __init__(self, *args, roles: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_roles(roles)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class MemberChangeForm(_RoleFormMixin, forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
    is_developer = forms.BooleanField(required=False, label="Developer")

    def __init__(self, *args, roles: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit_roles(roles)


class OrgSwitchForm(forms.Form):
    org_id = forms.UUIDField()


class SecretExpiryPolicyForm(forms.Form):
    """The org's "Client secrets expire after N days" policy; empty turns it off."""

    secret_expiry_days = forms.CharField(
        label="Client secrets expire after (days)",
        required=False,
        help_text=(
            f"From {SECRET_EXPIRY_MIN_DAYS} to {SECRET_EXPIRY_MAX_DAYS} days (2 years). New, "
            "regenerated and rotated secrets of the organization's apps get this lifetime; "
            "existing secrets keep theirs. Leave empty so secrets never expire."
        ),
        widget=forms.NumberInput(
            attrs={
                "min": SECRET_EXPIRY_MIN_DAYS,
                "max": SECRET_EXPIRY_MAX_DAYS,
                "step": 1,
                "inputmode": "numeric",
                "class": "input-ttl",
                "placeholder": "Never",
            }
        ),
    )

    def clean_secret_expiry_days(self) -> int | None:
        raw = self.cleaned_data["secret_expiry_days"].strip()
        if not raw:
            return None
        if not re.fullmatch(r"[0-9]{1,6}", raw):
            raise forms.ValidationError(
                f"Enter a whole number of days from {SECRET_EXPIRY_MIN_DAYS} to "
                f"{SECRET_EXPIRY_MAX_DAYS}, for example 90, or leave it empty so secrets "
                "never expire."
            )
        days = int(raw)
        if not SECRET_EXPIRY_MIN_DAYS <= days <= SECRET_EXPIRY_MAX_DAYS:
            raise forms.ValidationError(SECRET_EXPIRY_RANGE_MESSAGE)
        return days
