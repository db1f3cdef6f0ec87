// The SPA's entry point: configuration, the login session, routing and the API buttons.
//
// Session choice: silent authentication (a hidden iframe to the issuer with prompt=none) and an
// in-memory token cache. Tokens never touch localStorage, where any injected script could read
// them; a reload re-obtains them from the issuer's own session cookie. See ARCHITECTURE.md.

import { Auth0Client } from "/vendor/auth0-spa-js/auth0-spa-js.production.esm.js";
import { bearerSender, callApi, fetcherSender } from "./api.js";
import { issuerOrigin, issuerReachable, loadConfig } from "./config.js";
import * as ui from "./ui.js";

const ROUTES = { "/": "page-home", "/profile": "page-profile", "/external-api": "page-external-api" };
const PROTECTED = new Set(["/profile", "/external-api"]);

const state = { config: null, client: null, send: null, authenticated: false, user: null, ready: false };

start().catch((err) => {
  ui.setStatus("Not available");
  ui.showError("The app could not start", describe(err));
});

async function start() {
  wireEvents();
  state.config = await loadConfig();
  ui.setApiOrigin(state.config.apiOrigin);
  // The constructor does no network I/O, so the issuer check below can come first.
  state.client = new Auth0Client({
    domain: state.config.domain,
    clientId: state.config.clientId,
    authorizationParams: {
      audience: state.config.audience,
      redirect_uri: state.config.appOrigin,
      // read:messages is asked for so that /api/private-scoped works for users allowed it; the
      // issuer grants only what the user has, so others get a token without it (and a 403).
      scope: "openid profile email read:messages",
    },
    cacheLocation: "memory",
    useRefreshTokens: false,
    // Bounded waits: an issuer that hangs becomes an error in the page, not a spinner.
    authorizeTimeoutInSeconds: 10,
    httpTimeoutInSeconds: 10,
    // DPoP: the SDK keeps a non-extractable key pair in IndexedDB, asks the issuer for tokens
    // bound to it and signs a proof for every request, so a leaked access token is useless.
    useDpop: state.config.dpop,
  });
  state.send = state.config.dpop
    ? fetcherSender(
        state.client.createFetcher({
          baseUrl: state.config.apiOrigin,
          // The API's nonces are kept apart from the issuer's.
          dpopNonceId: "api",
          getAccessToken: () => state.client.getTokenSilently({ detailedResponse: true }),
        }),
      )
    : bearerSender(state.config.apiOrigin, () => state.client.getTokenSilently());

  let path = window.location.pathname;
  const query = new URLSearchParams(window.location.search);
  if ((query.has("code") || query.has("error")) && query.has("state")) {
    path = await completeLogin();
  } else if (await issuerReachable(state.config.domain)) {
    await state.client.checkSession(); // restores the session after a reload; errors mean "logged out"
  } else {
    issuerDown();
  }
  await refreshSession();
  state.ready = true;
  await showRoute(path, { focus: false });
}

/** Finishes the redirect from the issuer and returns the path the user wanted. */
async function completeLogin() {
  let returnTo = "/";
  try {
    const result = await state.client.handleRedirectCallback();
    returnTo = safePath(result?.appState?.returnTo);
  } catch (err) {
    ui.showError("Login did not complete", describe(err));
  }
  // Drop code and state from the address bar and history.
  window.history.replaceState(null, "", returnTo);
  return returnTo;
}

async function refreshSession() {
  state.authenticated = await state.client.isAuthenticated();
  state.user = state.authenticated ? await state.client.getUser() : null;
  ui.setAuth(state.authenticated, state.user);
}

async function showRoute(path, { focus = true } = {}) {
  if (PROTECTED.has(path) && !state.authenticated) {
    ui.showPage("page-home", { focus: false });
    await login(path);
    return;
  }
  const pageId = ROUTES[path] ?? "page-not-found";
  ui.showPage(pageId, { focus });
  if (pageId === "page-profile") {
    const claims = { ...(await state.client.getIdTokenClaims()) };
    delete claims.__raw; // the raw ID token: not for display
    ui.renderProfile(state.user, claims, await tokenType());
  }
}

async function login(returnTo) {
  ui.clearError();
  ui.setStatus("Contacting the sign-in server…");
  if (!(await issuerReachable(state.config.domain))) {
    issuerDown();
    ui.setAuth(false, null);
    return;
  }
  try {
    ui.setStatus("Redirecting to log in…");
    await state.client.loginWithRedirect({ appState: { returnTo: safePath(returnTo) } });
  } catch (err) {
    ui.setAuth(false, null);
    ui.showError("Could not start the login", describe(err));
  }
}

async function logout() {
  ui.clearError();
  if (await issuerReachable(state.config.domain)) {
    await state.client.logout({ logoutParams: { returnTo: state.config.appOrigin } });
    return;
  }
  // Forget the local session anyway; say that the issuer's session may outlive it.
  await state.client.logout({ openUrl: false });
  await refreshSession();
  ui.clearResult();
  await navigate("/");
  ui.showError(
    "Logged out of this app only",
    `The sign-in server at ${issuerOrigin(state.config.domain)} did not answer, so your session there may still be active.`,
  );
}

/** The access token's type as the issuer answered it (`Bearer` or `DPoP`), or an explanation. */
async function tokenType() {
  try {
    const response = await state.client.getTokenSilently({ detailedResponse: true });
    return response.token_type || "Bearer";
  } catch (err) {
    return `unavailable (${describe(err)})`;
  }
}

async function onCallApi(path, button) {
  ui.setBusy(button, true);
  ui.showResultPending(path);
  try {
    ui.renderResult(await callApi(state.config.apiOrigin, path, state.send, describe));
  } finally {
    ui.setBusy(button, false);
  }
}

async function navigate(path) {
  if (path !== window.location.pathname) window.history.pushState(null, "", path);
  await showRoute(path);
}

function wireEvents() {
  document.getElementById("btn-login").addEventListener("click", () =>
    login(ROUTES[window.location.pathname] ? window.location.pathname : "/"),
  );
  document.getElementById("btn-logout").addEventListener("click", () => logout());
  document.getElementById("btn-dismiss-error").addEventListener("click", () => ui.clearError());
  const callButton = document.getElementById("btn-call-api");
  callButton.addEventListener("click", () => onCallApi("/api/external", callButton));
  const privateButton = document.getElementById("btn-call-private");
  privateButton.addEventListener("click", () => onCallApi("/api/private-scoped", privateButton));

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-route]") : null;
    if (!link || !state.ready || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // new tab etc.
    const url = new URL(link.href);
    if (url.origin !== window.location.origin) return;
    event.preventDefault();
    navigate(url.pathname).catch((err) => ui.showError("Something went wrong", describe(err)));
  });
  window.addEventListener("popstate", () => {
    if (state.ready) showRoute(window.location.pathname).catch((err) => ui.showError("Something went wrong", describe(err)));
  });
}

function issuerDown() {
  ui.showError(
    "Cannot reach the sign-in server",
    `No answer from ${issuerOrigin(state.config.domain)}. If you develop locally, start the stack with "cargo make dev", then reload this page.`,
  );
}

/** Only same-origin paths may be a return target: no open redirect through appState. */
function safePath(value) {
  return typeof value === "string" && value.startsWith("/") && !value.startsWith("//") && !value.includes("\\")
    ? value
    : "/";
}

/** A readable sentence for SDK, network and configuration errors. */
function describe(err) {
  if (!err) return "Unknown error.";
  switch (err.error) {
    case "login_required":
      return "Your session with the sign-in server has ended. Log in again.";
    case "consent_required":
      return "The sign-in server needs your consent. Log in again.";
    case "timeout":
      return "The sign-in server did not answer in time.";
    default:
      break;
  }
  if (err.error_description) return `${err.error_description} (${err.error}).`;
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) {
    return `A network request failed (${err.message}). Is the server running?`;
  }
  return err.message || String(err);
}
