// Verify an access token the way a Node.js resource server would: node `jose` fetching the
// console's JWKS. Usage: node verify.mjs <issuer> <token>; prints the payload and the header's alg
// as JSON, or exits 1 with the error.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [issuer, token] = process.argv.slice(2);
try {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience: `${issuer}/api/v1`,
    typ: "at+jwt",
  });
  console.log(JSON.stringify({ alg: protectedHeader.alg, payload }));
} catch (error) {
  console.error(`${error.code ?? "ERROR"}: ${error.message}`);
  process.exit(1);
}
