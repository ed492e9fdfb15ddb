"""The IP allowlist's form: part of an app's Edit page (forms.AppEditForms). It parses and
normalises the networks (oauthapps/policies.py); it writes nothing."""

from typing import Any

from django import forms

from oauthapps import policies


class AllowedNetworksForm(forms.Form):
    allowed_networks = forms.CharField(
        label="IP allowlist",
        required=False,
        max_length=policies.MAX_NETWORKS * (policies.MAX_NETWORK_LENGTH + 1),
        help_text=(
            "Optional. The networks the app may get tokens from, one per line: IPv4 or IPv6 "
            "addresses or CIDR blocks, e.g. 203.0.113.0/24 or 2001:db8::/32. Leave empty to "
            f"allow any address. At most {policies.MAX_NETWORKS}."
        ),
        error_messages={
            "max_length": f"List at most {policies.MAX_NETWORKS} networks, one per line."
        },
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "class": "mono"}
        ),
    )

    def __init__(self, *args: Any, networks: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"allowed_networks": "\n".join(networks)})
        super().__init__(*args, **kwargs)

    def clean_allowed_networks(self) -> list[str]:
        return policies.parse_networks(self.cleaned_data["allowed_networks"])
