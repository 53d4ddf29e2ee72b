/** A tiny hash router: `#/`, `#/instructor`, `#/technician/<tab>`, with `?key=value` after the path. */

export interface Route {
  /** "" (the kiosk), "instructor", "technician". */
  view: string;
  /** Further path segments: `#/technician/audit` has ["audit"]. */
  rest: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [path = "", q = ""] = raw.split("?", 2);
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  return { view: parts[0] ?? "", rest: parts.slice(1), query: new URLSearchParams(q) };
}

export function currentRoute(): Route {
  return parseRoute(location.hash);
}

export function href(view: string, ...rest: string[]): string {
  return `#/${[view, ...rest].filter((p) => p !== "").map(encodeURIComponent).join("/")}`;
}

export function onRouteChange(fn: (r: Route) => void): () => void {
  const handler = () => fn(currentRoute());
  window.addEventListener("hashchange", handler);
  return () => window.removeEventListener("hashchange", handler);
}
