"""Every email the console sends is plain text with an HTML version of the same words.

allauth's messages (accounts.adapter) and invitations (accounts.services) both go through
`with_html_alternative`, so there is one look and one way links are shown.
"""

import re

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.html import escape

_URL = re.compile(r"https?://[^\s<>\"]+")


def _paragraphs(text: str) -> list[str]:
    """The text's paragraphs as HTML: escaped, links made clickable, line breaks kept."""
    html = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        html.append(linked.replace("\n", "<br>\n"))
    return html


def with_html_alternative(message: EmailMessage) -> EmailMessage:
    """The message with an HTML alternative rendered from its text (unless it has one)."""
    if not isinstance(message, EmailMultiAlternatives) or message.alternatives:
        return message
    html = render_to_string(
        "email/message.html",
        {"subject": message.subject, "paragraphs": _paragraphs(message.body)},
    )
    message.attach_alternative(html, "text/html")
    return message
