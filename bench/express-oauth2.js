// The same API as the seed, protected by Auth0's current middleware, express-oauth2-jwt-bearer
// (what Auth0's Express API quickstart uses today). It reads the issuer's OIDC discovery document,
// then its JWKS. Settings as in express-seed.js (express-env.js).
//
// DPoP (RFC 9449) is on, as the package's EXAMPLES.md shows it ("Accept both DPoP and Bearer
// tokens", its default made explicit): a Bearer token passes as before, a token bound to a key
// (`cnf.jkt`) must come as `Authorization: DPoP` with a proof whose `htu` is this server's
// origin + path, `htm` GET, `ath` the token's hash and `iat` within 300 s before to 30 s after
// now (the package's `iatOffset` and `iatLeeway` defaults). The package keeps no record of
// proof `jti`s, so it does not refuse a replayed proof.
const express = require("express");
const { auth } = require("express-oauth2-jwt-bearer");
const { origin, audience, listen } = require("./express-env");

const app = express();

const checkJwt = auth({
  issuerBaseURL: `${origin}/`,
  audience,
  dpop: { enabled: true, required: false }
});

app.get("/api/external", checkJwt, (req, res) => {
  res.send({
    msg: "Your Access Token was successfully validated!"
  });
});

listen(app);
