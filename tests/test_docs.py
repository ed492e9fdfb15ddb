"""The user documentation lives in the repository (docs/): the README and every page link only
to files that exist in it, and nothing outside it (a clone is all a user has)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_names_a_file_in_the_repository(page):
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), (
            f"{page.name} links outside the repository: {target}"
        )
        assert path.exists(), f"{page.name} links to a missing file: {target}"


def test_the_readme_leads_to_the_documentation_index():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/README.md)" in readme
    index = (ROOT / "docs" / "README.md").read_text()
    for page in PAGES[1:]:
        if page.name != "README.md":
            assert f"]({page.name})" in index, (
                f"docs/README.md does not list {page.name}"
            )
