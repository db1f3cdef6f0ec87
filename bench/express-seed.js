// The seed's server.js (Auth0 quickstart "Create the Backend API"), kept as written except for:
//  - current package versions: express-jwt 8 exports `expressjwt` and requires `algorithms`
//    (the seed wrote `algorithm`, which express-jwt ignored);
//  - the tenant, audience and port come from the environment, so that the benchmark can point it
//    at the local dev issuer on a free port; it listens on loopback only.
// Settings: AUTH0_DOMAIN (a host name, or an origin such as http://127.0.0.1:3002),
// AUTH0_AUDIENCE, PORT, HOST. No error handler: like the seed, failures go to Express's default.
const express = require("express");
const { expressjwt: jwt } = require("express-jwt");
const jwksRsa = require("jwks-rsa");

// Create a new Express app
const app = express();

// `domain` as in auth_config.json: a bare host means https, an origin is taken as written.
const domain = process.env.AUTH0_DOMAIN || "http://localhost:3002";
const origin = /^https?:\/\//i.test(domain) ? domain.replace(/\/+$/, "") : `https://${domain}`;

// Set up Auth0 configuration
const authConfig = {
  domain: origin,
  audience: process.env.AUTH0_AUDIENCE || "https://api.local.test"
};

// Define middleware that validates incoming bearer tokens
// using JWKS from ${authConfig.domain}
const checkJwt = jwt({
  secret: jwksRsa.expressJwtSecret({
    cache: true,
    rateLimit: true,
    jwksRequestsPerMinute: 5,
    jwksUri: `${authConfig.domain}/.well-known/jwks.json`
  }),

  audience: authConfig.audience,
  issuer: `${authConfig.domain}/`,
  algorithms: ["RS256"]
});

// Define an endpoint that must be called with an access token
app.get("/api/external", checkJwt, (req, res) => {
  res.send({
    msg: "Your Access Token was successfully validated!"
  });
});

// Start the app
const port = Number(process.env.PORT || 3001);
const host = process.env.HOST || "127.0.0.1";
app.listen(port, host, () => console.log(`API listening on ${port}`));
