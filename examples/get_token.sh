#!/usr/bin/env bash
# The curl equivalent of get_token.py: a token from the downloaded credentials JSON, then the API.
#   examples/get_token.sh credentials.json [org_id]
# Needs curl and jq.
set -euo pipefail
CREDENTIALS=${1:?usage: get_token.sh credentials.json [org_id]}

CLIENT_ID=$(jq -r .client_id "$CREDENTIALS")
CLIENT_SECRET=$(jq -r .client_secret "$CREDENTIALS")
TOKEN_ENDPOINT=$(jq -r .token_endpoint "$CREDENTIALS")
ISSUER=$(jq -r .issuer "$CREDENTIALS")
ORG_ID=${2:-$(jq -r .org_id "$CREDENTIALS")}

RESPONSE=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" \
  -d grant_type=client_credentials -d orgId="$ORG_ID" "$TOKEN_ENDPOINT")
ACCESS_TOKEN=$(jq -r '.access_token // empty' <<<"$RESPONSE")
if [ -z "$ACCESS_TOKEN" ]; then
  echo "Token request failed: $RESPONSE" >&2
  exit 1
fi

curl -sS --fail-with-body -H "Authorization: Bearer $ACCESS_TOKEN" "$ISSUER/api/v1/orgs/$ORG_ID"
echo
