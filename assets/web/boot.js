// Starts the page at this address, each page its own bundle (the dashboard first: the page
// preloads it), and the wall, the public page and the reports page their own styles, so the dashboard's first
// load carries neither. A file of its own (not an inline script) so the
// Content-Security-Policy can allow only the server's own scripts and styles.
const bundles = ["/ioc_frontend.js", "/ioc_wall.js", "/ioc_public.js", "/ioc_reports.js"];
const styles = [null, "/wall.css", "/public.css", "/reports.css"];
const path = location.pathname;
const page = path.startsWith("/wall") ? 1 : path.startsWith("/cong-khai") ? 2 : path.startsWith("/bao-cao") ? 3 : 0;
if (styles[page]) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = styles[page];
  document.head.append(link);
}
import(bundles[page]).then((start) => start.default());
