from allauth.core import context
from allauth.mfa.base import forms as mfa_forms
from django import forms
from django.core.exceptions import ValidationError

from console.accounts import lockout


class _CountsTowardsLockout:
    """A second-factor code form whose wrong codes count towards the sign-in lockout, and which
    refuses every code (right or wrong) while that email address is locked out from here."""

    user: object

    def clean_code(self) -> str:
        request = context.request
        email = getattr(self.user, "email", "")
        if lockout.is_locked_out(request, email):
            raise ValidationError(
                "Too many failed sign-ins: this account is locked for now."
            )
        try:
            return super().clean_code()  # type: ignore[misc]
        except ValidationError:
            lockout.record_failure(request, email)
            raise


class AuthenticateForm(_CountsTowardsLockout, mfa_forms.AuthenticateForm):
    """MFA_FORMS["authenticate"]: the code asked for at sign-in."""


class ReauthenticateForm(_CountsTowardsLockout, mfa_forms.ReauthenticateForm):
    """MFA_FORMS["reauthenticate"]: the fresh code asked for before a sensitive action."""


class MfaPolicyForm(forms.Form):
    require_mfa = forms.BooleanField(
        required=False, label="Require MFA for Owners and Administrators"
    )
