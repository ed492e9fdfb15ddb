from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password

from orgs.models import Membership, Organization


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class SignupForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email already exists. Sign in instead."
            )
        return email

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("email") and cleaned.get("password"):
            try:
                validate_password(
                    cleaned["password"],
                    User(username=cleaned["email"], email=cleaned["email"]),
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class OrganizationForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name"]
        labels = {"name": "Organization name"}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        return name


class MemberAddForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(
        choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )
    is_developer = forms.BooleanField(
        required=False, label="Developer", help_text="May create and manage OAuth apps."
    )


class MemberChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
    is_developer = forms.BooleanField(required=False, label="Developer")
