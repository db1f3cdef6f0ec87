// Development only: `spa-server --dev-reload` serves this and adds it to index.html; without the
// flag it does not exist. Reloads the page when a frontend file is saved, and when the event
// stream reconnects to a different SPA server (it was rebuilt and restarted). While connected,
// <html data-dev-reload="connected"> says so (in the inspector, and to the browser tests).
const events = new EventSource('/_dev/reload');
let instance = null;
events.addEventListener('hello', (event) => {
  if (instance !== null && instance !== event.data) {
    location.reload();
    return;
  }
  instance = event.data;
  document.documentElement.dataset.devReload = 'connected';
});
events.addEventListener('reload', () => location.reload());
events.addEventListener('error', () => {
  document.documentElement.dataset.devReload = 'reconnecting';
});
