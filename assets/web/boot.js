// Starts the dashboard. A file of its own (not an inline script) so the Content-Security-Policy
// can allow only the server's own scripts.
import init from "/ioc_frontend.js";
init();
