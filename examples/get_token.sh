#!/usr/bin/env bash
# The curl equivalent of get_token.py: a token from the downloaded credentials JSON, then the API.
#   examples/get_token.sh credentials.json [org_id]
# Needs curl and jq. Anything that goes wrong is one line on stderr and exit status 1.
set -euo pipefail
CREDENTIALS=${1:?usage: get_token.sh credentials.json [org_id]}

fail() { echo "$*" >&2; exit 1; }
[ -r "$CREDENTIALS" ] || fail "Cannot read $CREDENTIALS."
jq empty "$CREDENTIALS" 2>/dev/null || fail "$CREDENTIALS is not JSON: use the file Download JSON saved."
field() { jq -er ".$1" "$CREDENTIALS" 2>/dev/null || fail "$CREDENTIALS lacks $1: use the file Download JSON saved."; }

CLIENT_ID=$(field client_id)
# A private key JWT app has no secret: signing its client assertions needs get_token.py.
if [ "$(jq -r '.token_endpoint_auth_method // ""' "$CREDENTIALS")" = private_key_jwt ]; then
  fail "The app of $CREDENTIALS authenticates with a private key JWT: use examples/get_token.py $CREDENTIALS --private-key private-key.pem."
fi
CLIENT_SECRET=$(field client_secret)
TOKEN_ENDPOINT=$(field token_endpoint)
ISSUER=$(field issuer)
ORG_ID=${2:-$(field org_id)}

# request WHAT URL CURL_ARGS...: the body of a 200 answer; anything else is one line and exit 1.
request() {
  local what=$1 url=$2 out err status
  shift 2
  out=$(mktemp) err=$(mktemp)
  trap 'rm -f "$out" "$err"' RETURN
  if ! status=$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 "$@" "$url" 2>"$err"); then
    fail "Cannot reach the console at $url: is it running there? ($(sed 's/^curl: //' "$err" | head -n 1))"
  fi
  if [ "$status" != 200 ]; then
    fail "$what failed ($status): $(jq -r '"\(.error): \(.error_description // "")"' "$out" 2>/dev/null || head -c 200 "$out")"
  fi
  cat "$out"
}

RESPONSE=$(request "Token request" "$TOKEN_ENDPOINT" -u "$CLIENT_ID:$CLIENT_SECRET" \
  -d grant_type=client_credentials -d orgId="$ORG_ID")
ACCESS_TOKEN=$(jq -r '.access_token' <<<"$RESPONSE")
echo "Got a token for $(jq -r .expires_in <<<"$RESPONSE") seconds with scope: $(jq -r .scope <<<"$RESPONSE")" >&2

request "API call" "$ISSUER/api/v1/orgs/$ORG_ID" -H "Authorization: Bearer $ACCESS_TOKEN"
echo
