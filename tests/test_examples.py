"""The example scripts a newcomer runs first (examples/): when something goes wrong — the console
not running where the credentials say, a file that is not the downloaded JSON — they say so in
one line on stderr and exit 1, never with a traceback. (Their successful runs against a live
console: tests/tokens/test_live_clients.py and tests/oauthapps/test_issuer.py.)"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The discard port: nothing listens there.
NOBODY = "http://127.0.0.1:9"
SCRIPTS = {
    "python": [sys.executable, str(ROOT / "examples" / "get_token.py")],
    "curl": ["bash", str(ROOT / "examples" / "get_token.sh")],
}


def run(script: str, credentials: Path) -> subprocess.CompletedProcess:
    if script == "curl" and not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("needs curl and jq")
    return subprocess.run(
        [*SCRIPTS[script], str(credentials)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def credentials(tmp_path: Path, **fields: str) -> Path:
    path = tmp_path / "credentials.json"
    document = {
        "client_id": "client",
        "client_secret": "secret",
        "org_id": "00000000-0000-0000-0000-000000000000",
        "issuer": NOBODY,
        "token_endpoint": f"{NOBODY}/oauth/token",
        **fields,
    }
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_console_that_is_not_there_is_one_clear_line(script, tmp_path):
    result = run(script, credentials(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"Cannot reach the console at {NOBODY}/oauth/token: is it running there?"
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_file_that_is_not_the_credentials_json_is_one_clear_line(script, tmp_path):
    path = credentials(tmp_path)
    document = json.loads(path.read_text())
    del document["client_secret"]
    path.write_text(json.dumps(document))
    result = run(script, path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{path} lacks client_secret: use the file Download JSON saved."
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_missing_file_is_one_clear_line(script, tmp_path):
    missing = tmp_path / "nowhere.json"
    result = run(script, missing)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Cannot read {missing}")
    assert len(result.stderr.strip().splitlines()) == 1
