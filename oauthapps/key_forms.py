"""Forms for private_key_jwt (RFC 7523 §2.2): the wizard's client authentication fields (mixed
into its first step, forms.AppTypeForm) and the app page's key management. They parse what was
pasted into key records (client_keys) and check a JWKS URL by fetching it; none writes."""

from typing import Any

from django import forms
from django.utils import timezone

from oauthapps import client_keys
from oauthapps.models import OAuthApp

CLIENT_AUTH_HELP = {
    OAuthApp.ClientAuth.CLIENT_SECRET: (
        "The console generates a client secret, shown once. The app sends its client ID and "
        "secret with each token request."
    ),
    OAuthApp.ClientAuth.PRIVATE_KEY_JWT: (
        "The app signs a short-lived JWT with its own private key for each token request "
        "(private_key_jwt, RFC 7523). You register only the public key: there is no shared "
        "secret to store, leak or rotate."
    ),
}
PUBLIC_KEYS_HELP = (
    "PEM (-----BEGIN PUBLIC KEY-----), a JWK or a JWKS; RSA (2048 bits or more), EC P-256 or "
    "Ed25519. At most two keys (two while you switch keys). Never paste the private key."
)
JWKS_URL_HELP = (
    "Instead of pasting keys: the https URL where the app publishes its public keys (a JWKS). "
    "The console fetches it and follows its Cache-Control."
)


def _public_keys_field(label: str = "Public keys") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=client_keys.MAX_PASTED_CHARS,
        help_text=PUBLIC_KEYS_HELP,
        error_messages={
            "max_length": "That is longer than %(limit_value)d characters: paste one or two "
            "public keys."
        },
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "class": "mono",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        ),
    )


def _jwks_uri_field(label: str) -> forms.URLField:
    return forms.URLField(
        label=label,
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=JWKS_URL_HELP,
        error_messages={
            "invalid": "Enter a URL such as https://example.com/jwks.json."
        },
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )


def jwks_url_error(url: str) -> str | None:
    """Why the console cannot use this JWKS URL (not allowed, unreachable, no usable key),
    or None: it fetches it (or takes it from the cache) to find out."""
    try:
        client_keys.jwks_url_keys(url)
    except client_keys.InvalidJWKSURL as exc:
        return str(exc)
    except client_keys.JWKSUnavailable as exc:
        return f"The console could not fetch the JWKS: {exc}."
    except client_keys.InvalidPublicKey as exc:
        return f"That URL does not serve a usable JWKS. {exc}"
    return None


class ClientAuthFields(forms.Form):
    """How a new app authenticates: client secret (the default) or private key JWT, with its
    public keys pasted or a JWKS URL. cleaned_data: client_auth, public_keys (key records) and
    jwks_uri, as services.oauth_app_create takes them. A client-secret app's key fields are
    ignored (with JavaScript they are hidden)."""

    # Not sent (a script written before this choice existed): a client secret, the default.
    client_auth = forms.ChoiceField(
        label="Client authentication",
        choices=OAuthApp.ClientAuth.choices,
        initial=OAuthApp.ClientAuth.CLIENT_SECRET,
        required=False,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Choose one of the ways listed to authenticate.",
        },
    )
    public_keys = _public_keys_field()
    jwks_uri = _jwks_uri_field("Or the URL of its JWKS")

    def client_auth_choices(self) -> list[tuple[Any, str]]:
        return [
            (radio, CLIENT_AUTH_HELP.get(radio.data["value"], ""))
            for radio in self["client_auth"]
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "client_auth" in cleaned and not cleaned["client_auth"]:
            cleaned["client_auth"] = OAuthApp.ClientAuth.CLIENT_SECRET
        if cleaned.get("client_auth") != OAuthApp.ClientAuth.PRIVATE_KEY_JWT:
            cleaned["public_keys"], cleaned["jwks_uri"] = [], ""
            return cleaned
        if "public_keys" not in cleaned or "jwks_uri" not in cleaned:
            return cleaned  # the field's own error says what is wrong
        text, url = cleaned["public_keys"], cleaned["jwks_uri"]
        cleaned["public_keys"] = []
        if text and url:
            self.add_error(
                "jwks_uri", "Paste public keys or give a JWKS URL, not both."
            )
        elif not text and not url:
            self.add_error(
                "public_keys",
                "Paste the public key the app signs with, or give the URL of its JWKS.",
            )
        elif text:
            try:
                cleaned["public_keys"] = client_keys.key_records(
                    text, now=timezone.now()
                )
            except client_keys.InvalidPublicKey as exc:
                self.add_error("public_keys", str(exc))
        elif error := jwks_url_error(url):
            self.add_error("jwks_uri", error)
        return cleaned


class AddPublicKeysForm(forms.Form):
    """The app page's Add public key: one key (or two, for an app that has none left)."""

    public_keys = _public_keys_field("Public key")

    def __init__(self, *args: Any, app: OAuthApp, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def clean_public_keys(self) -> list[dict[str, Any]]:
        try:
            records = client_keys.key_records(
                self.cleaned_data["public_keys"], now=timezone.now()
            )
            client_keys.merged(self.app.public_keys, records)
        except client_keys.InvalidPublicKey as exc:
            raise forms.ValidationError(str(exc)) from None
        return records


class RemovePublicKeyForm(forms.Form):
    thumbprint = forms.CharField(widget=forms.HiddenInput, max_length=64)
    revoke_tokens = forms.BooleanField(
        label="Also revoke every access token the app holds (do this if the private key leaked)",
        required=False,
    )


class JWKSURLForm(forms.Form):
    jwks_uri = _jwks_uri_field("JWKS URL")

    def clean_jwks_uri(self) -> str:
        url = self.cleaned_data["jwks_uri"]
        if not url:
            raise forms.ValidationError("Enter the URL of the app's JWKS.")
        if error := jwks_url_error(url):
            raise forms.ValidationError(error)
        return url
