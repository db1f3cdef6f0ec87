// Calls the protected API with the access token and turns every outcome into something a person
// can read: the JSON answer, or the status, the RFC 6750 error and its description.

/**
 * GET `${apiOrigin}${path}` with the bearer token.
 * Returns { ok, status, title, message, body } — never throws.
 */
export async function callApi(apiOrigin, path, accessToken) {
  const url = `${apiOrigin}${path}`;
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${accessToken}` },
      cache: "no-store",
    });
  } catch {
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
