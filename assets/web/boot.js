// Starts the page at this address, each page its own bundle (the dashboard first: the page
// preloads it). A file of its own (not an inline script) so the Content-Security-Policy can
// allow only the server's own scripts.
const bundles = ["/ioc_frontend.js", "/ioc_wall.js", "/ioc_public.js"];
const path = location.pathname;
const bundle = path.startsWith("/wall") ? bundles[1] : path.startsWith("/cong-khai") ? bundles[2] : bundles[0];
import(bundle).then((page) => page.default());
