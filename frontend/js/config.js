// Loads the app's settings from the SPA server, which generates /auth_config.json from the same
// resolved configuration the API and the issuer use.

const REQUIRED = ["domain", "clientId", "audience", "appOrigin", "apiOrigin"];

export class ConfigError extends Error {}

export async function loadConfig() {
  let response;
  try {
    response = await fetch("/auth_config.json", { cache: "no-store" });
  } catch {
    throw new ConfigError("The app could not load /auth_config.json: the SPA server did not answer.");
  }
  if (!response.ok) {
    throw new ConfigError(`The app could not load /auth_config.json (HTTP ${response.status}).`);
  }
  let config;
  try {
    config = await response.json();
  } catch {
    throw new ConfigError("/auth_config.json is not valid JSON.");
  }
  const missing = REQUIRED.filter((key) => typeof config[key] !== "string" || config[key] === "");
  if (missing.length > 0) {
    throw new ConfigError(`/auth_config.json lacks: ${missing.join(", ")}.`);
  }
  if (config.dpop !== undefined && typeof config.dpop !== "boolean") {
    throw new ConfigError("/auth_config.json: dpop must be true or false.");
  }
  // DPoP is off unless asked for: older configuration files have no such key.
  return { ...config, dpop: config.dpop === true };
}

/** The issuer's origin as the browser will contact it (auth0-spa-js adds https:// to bare hosts). */
export function issuerOrigin(domain) {
  return /^https?:\/\//i.test(domain) ? domain.replace(/\/+$/, "") : `https://${domain}`;
}

/**
 * Whether the issuer answers at all. A `no-cors` request needs no CORS headers from the issuer:
 * it resolves (opaquely) when something answered and rejects only on a network failure, which
 * is exactly the question. Asked before sending the user away, so an issuer that is down is an
 * error in this page rather than a browser error page.
 */
export async function issuerReachable(domain, timeoutMs = 5000) {
  try {
    await fetch(`${issuerOrigin(domain)}/.well-known/openid-configuration`, {
      mode: "no-cors",
      cache: "no-store",
      credentials: "omit",
      signal: AbortSignal.timeout(timeoutMs),
    });
    return true;
  } catch {
    return false;
  }
}
