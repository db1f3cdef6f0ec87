// The same API as the seed, protected by Auth0's current middleware, express-oauth2-jwt-bearer
// (what Auth0's Express API quickstart uses today). It reads the issuer's OIDC discovery document,
// then its JWKS. Settings as in express-seed.js: AUTH0_DOMAIN, AUTH0_AUDIENCE, PORT, HOST.
const express = require("express");
const { auth } = require("express-oauth2-jwt-bearer");

const app = express();

const domain = process.env.AUTH0_DOMAIN || "http://localhost:3002";
const origin = /^https?:\/\//i.test(domain) ? domain.replace(/\/+$/, "") : `https://${domain}`;

const checkJwt = auth({
  issuerBaseURL: `${origin}/`,
  audience: process.env.AUTH0_AUDIENCE || "https://api.local.test"
});

app.get("/api/external", checkJwt, (req, res) => {
  res.send({
    msg: "Your Access Token was successfully validated!"
  });
});

const port = Number(process.env.PORT || 3001);
const host = process.env.HOST || "127.0.0.1";
app.listen(port, host, () => console.log(`API listening on ${port}`));
