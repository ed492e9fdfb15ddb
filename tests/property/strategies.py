"""Hostile input for forms and endpoints: any text, long text, control characters, markup, SQL,
header-splitting, lookalike digits; kept modest in size so the suite stays fast."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# A tag that must never come back unescaped.
MARKUP_PROBE = "<x-probe data-p=1>"

TRICKY = [
    "",
    " ",
    "\x00",
    "\t\n",
    MARKUP_PROBE,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    '"; DROP TABLE orgs_organization; --',
    "\r\nSet-Cookie: pwned=1",
    "%00",
    "%ff%fe",
    "${jndi:ldap://x}",
    "{{ settings.SECRET_KEY }}",
    "\u202eevil",
    "\ufeffbom",
    "𝕏" * 101,
    "a" * 10_000,
    "٣٠",
    "1e3",
    "-0",
    "+30",
    "0x1e",
]

text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.text(min_size=90, max_size=1200),
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
)
emails = st.one_of(st.emails(), text)
checkbox = st.one_of(st.none(), st.sampled_from(["on", "true", "1", "0", "off"]), text)

FORM_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays repeatable
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # examples share one test's database on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def form(data: dict) -> dict:
    """Drop fields drawn as None (absent), keep lists as repeated fields."""
    return {key: value for key, value in data.items() if value is not None}
