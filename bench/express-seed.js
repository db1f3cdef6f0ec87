// The seed's server.js (Auth0 quickstart "Create the Backend API"), kept as written except for:
//  - current package versions: express-jwt 8 exports `expressjwt` and requires `algorithms`
//    (the seed wrote `algorithm`, which express-jwt ignored);
//  - the tenant, audience and port come from the environment (express-env.js), so that the
//    benchmark can point it at the local dev issuer on a free port; it listens on loopback only.
// No error handler: like the seed, failures go to Express's default.
const express = require("express");
const { expressjwt: jwt } = require("express-jwt");
const jwksRsa = require("jwks-rsa");
const { origin, audience, listen } = require("./express-env");

// Create a new Express app
const app = express();

// Set up Auth0 configuration
const authConfig = {
  domain: origin,
  audience
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
listen(app);
