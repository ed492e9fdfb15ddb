// Gets an access token with node openid-client's private_key_jwt client authentication
// (client.PrivateKeyJwt), through the console's RFC 8414 metadata, and prints the token
// response as JSON. Used by tests/tokens/test_private_key_jwt_live.py.
//
//   node client_credentials.mjs ISSUER CLIENT_ID PRIVATE_KEY_PEM_FILE ALG [ORG_ID]
//
// ALG is RS256, ES256 or EdDSA (jose imports the PKCS#8 key for it). Plain http is allowed:
// the tests' console listens on loopback.
import { readFileSync } from "node:fs";
import * as client from "openid-client";
import { importPKCS8 } from "jose";

const [issuer, clientId, keyFile, alg, orgId] = process.argv.slice(2);
const key = await importPKCS8(readFileSync(keyFile, "utf8"), alg);
const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.PrivateKeyJwt(key),
  { execute: [client.allowInsecureRequests], algorithm: "oauth2" },
);
try {
  const tokens = await client.clientCredentialsGrant(config, orgId ? { orgId } : {});
  process.stdout.write(JSON.stringify(tokens) + "\n");
} catch (error) {
  // An OAuth error answer: its error and description, for the test to read.
  process.stdout.write(
    JSON.stringify({ error: error.error ?? error.name, error_description: error.error_description ?? error.message }) + "\n",
  );
  process.exitCode = 1;
}
