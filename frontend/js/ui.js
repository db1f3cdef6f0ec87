// Everything that touches the DOM. Data from the issuer or the API is only ever written with
// textContent or as attribute values, never as HTML.

const $ = (id) => document.getElementById(id);

const PAGE_TITLES = {
  "page-home": "Home",
  "page-profile": "Profile",
  "page-external-api": "External API",
  "page-not-found": "Page not found",
};

export function showError(title, message) {
  $("error-title").textContent = title;
  $("error-message").textContent = message;
  $("error").hidden = false;
}

export function clearError() {
  $("error").hidden = true;
}

export function setStatus(text) {
  $("auth-status").textContent = text;
}

/** Shows the controls for a known session state; until then neither Log in nor Log out shows. */
export function setAuth(authenticated, user) {
  document.body.dataset.auth = authenticated ? "in" : "out";
  $("btn-login").hidden = authenticated;
  $("btn-logout").hidden = !authenticated;
  const who = displayName(user);
  setStatus(authenticated ? `Logged in as ${who}` : "Not logged in");
  $("home-logged-in").hidden = !authenticated;
  $("home-logged-out").hidden = authenticated;
  $("home-user-name").textContent = who;
}

export function setApiOrigin(apiOrigin) {
  for (const el of document.querySelectorAll(".api-origin")) el.textContent = apiOrigin;
}

/** Shows one page, marks its nav link current, and names the document after it. */
export function showPage(pageId, { focus }) {
  for (const page of document.querySelectorAll("main > .page")) page.hidden = page.id !== pageId;
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (link.id === `nav-${pageId.slice("page-".length)}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${PAGE_TITLES[pageId] ?? "OIDC Demo"} · OIDC Demo`;
  // Moving focus to the new heading tells screen-reader users that the page changed, as a full
  // page load would.
  if (focus) document.querySelector(`#${pageId} h1`)?.focus();
}

export function renderProfile(user, claims, tokenType) {
  const name = displayName(user);
  $("profile-token-type").textContent = tokenType ?? "—";
  $("profile-name").textContent = user?.name ?? "—";
  $("profile-email").textContent = user?.email
    ? `${user.email}${user.email_verified === false ? " (not verified)" : ""}`
    : "—";
  $("profile-claims").textContent = JSON.stringify(claims ?? {}, null, 2);

  const initials = $("profile-initials");
  initials.textContent = name.trim().charAt(0).toUpperCase() || "?";
  initials.hidden = false;
  const img = $("profile-picture");
  img.hidden = true;
  const src = safeImageUrl(user?.picture);
  if (src) {
    img.alt = `Profile picture of ${name}`;
    img.onload = () => {
      img.hidden = false;
      initials.hidden = true;
    };
    // Also fires when the Content-Security-Policy blocks a picture host; the initials stay.
    img.onerror = () => {
      img.hidden = true;
      initials.hidden = false;
    };
    img.src = src;
  } else {
    img.removeAttribute("src");
  }
}

export function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
}

export function showResultPending(path) {
  const box = $("api-result");
  box.hidden = false;
  box.classList.remove("is-ok", "is-error");
  $("api-result-title").textContent = `Calling ${path}…`;
  $("api-result-message").textContent = "";
  $("api-result-json").textContent = "";
}

/** Shows an API outcome: { ok, title, message, body }. */
export function renderResult({ ok, title, message, body }) {
  const box = $("api-result");
  box.hidden = false;
  box.classList.toggle("is-ok", ok);
  box.classList.toggle("is-error", !ok);
  $("api-result-title").textContent = title;
  $("api-result-message").textContent = message ?? "";
  $("api-result-json").textContent =
    body === null || body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body, null, 2);
}

export function clearResult() {
  $("api-result").hidden = true;
}

function displayName(user) {
  return user?.name || user?.nickname || user?.email || "there";
}

function safeImageUrl(value) {
  if (typeof value !== "string" || value === "") return null;
  try {
    const url = new URL(value, window.location.origin);
    return ["https:", "http:", "data:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}
