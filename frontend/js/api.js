// Calls the protected API and turns every outcome into something a person can read: the JSON
// answer, or the status, the RFC 6750 / RFC 9449 error and its description.
//
// Two ways to send the request: with a Bearer token from `fetch` (`bearerSender`), or through
// auth0-spa-js's fetcher (`fetcherSender`), which adds `Authorization: DPoP …` and a fresh `DPoP`
// proof per request and answers the API's `use_dpop_nonce` challenge with one retry.

/** Sends GET `${apiOrigin}${path}` with `Authorization: Bearer <token>`. */
export function bearerSender(apiOrigin, getToken) {
  return async (path) => {
    const token = await getToken();
    return fetch(`${apiOrigin}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  };
}

/** Sends GET `${path}` through an auth0-spa-js `Fetcher` (created with `baseUrl: apiOrigin`). */
export function fetcherSender(fetcher) {
  return (path) => fetcher.fetchWithAuth(path, { cache: "no-store" });
}

/**
 * GET `path` with `send`. Returns { ok, status, title, message, body } — never throws; a failure
 * to get a token is reported through `tokenError`, which turns the error into a message.
 */
export async function callApi(apiOrigin, path, send, tokenError) {
  let response;
  try {
    response = await send(path);
  } catch (err) {
    if (err && typeof err.error === "string") {
      return { ok: false, status: 0, title: "Could not get an access token", message: tokenError(err), body: null };
    }
    return {
      ok: false,
      status: 0,
      title: `Cannot reach the API`,
      message:
        `No answer from ${apiOrigin} (the API is not running, or it refused this origin under CORS). ` +
        `Start it and try again.`,
      body: null,
    };
  }
  const body = await readBody(response);
  const line = `${response.status} ${response.statusText || ""}`.trim();
  if (response.ok) {
    return { ok: true, status: response.status, title: `${line} — GET ${path}`, message: "", body };
  }
  return {
    ok: false,
    status: response.status,
    title: `${line} — GET ${path}`,
    message: describeFailure(response, body),
    body,
  };
}

async function readBody(response) {
  const text = await response.text().catch(() => "");
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeFailure(response, body) {
  const error = body && typeof body === "object" ? body.error : undefined;
  const description = body && typeof body === "object" ? body.error_description : undefined;
  const detail = description ? ` ${sentence(description)}` : "";
  switch (response.status) {
    case 400:
      return `The API rejected the request as malformed${error ? ` (${error})` : ""}.${detail}`;
    case 401:
      return `The API did not accept the access token${error ? ` (${error})` : ""}.${detail} Try logging out and in again.`;
    case 403:
      return `Access denied${error ? ` (${error})` : ""}.${detail} Your account does not have the permission this endpoint needs.`;
    case 503: {
      const retry = response.headers.get("Retry-After");
      return `The API cannot check tokens right now${error ? ` (${error})` : ""}.${detail}${retry ? ` Try again in ${retry} seconds.` : ""}`;
    }
    default:
      return `The API answered with an error${error ? ` (${error})` : ""}.${detail}`;
  }
}

function sentence(text) {
  const trimmed = String(text).trim();
  const t = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}
