// The settings both Express peers take from the environment (the runner sets them; the
// defaults are the seed's): AUTH0_DOMAIN (a host name, or an origin such as
// http://127.0.0.1:3002), AUTH0_AUDIENCE, PORT, HOST; and the start of an app on that address.
const domain = process.env.AUTH0_DOMAIN || "http://localhost:3002";

// `domain` as in auth_config.json: a bare host means https, an origin is taken as written.
const origin = /^https?:\/\//i.test(domain) ? domain.replace(/\/+$/, "") : `https://${domain}`;
const audience = process.env.AUTH0_AUDIENCE || "https://api.local.test";

// Listens on HOST:PORT (loopback and 3001 by default).
function listen(app) {
  const port = Number(process.env.PORT || 3001);
  const host = process.env.HOST || "127.0.0.1";
  app.listen(port, host, () => console.log(`API listening on ${port}`));
}

module.exports = { origin, audience, listen };
