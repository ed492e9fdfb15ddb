from django import forms

from orgs.models import Membership, Organization


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
