/**
 * A few DOM helpers instead of a framework: build elements with `h`/`svg`, set text and attributes
 * only when they change (so CSS animations and focused inputs survive live updates), and keep a
 * keyed list in step with data without rebuilding the rows that stayed.
 */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: never) => void)>;

function applyAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    } else if (v === false || v === null || v === undefined) {
      continue;
    } else if (k === "class") {
      el.setAttribute("class", String(v));
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** An HTML element: `h("button", { class: "big", onClick: go }, "Start")`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Sets the text of an element only if it changed. */
export function setText(el: Element | null | undefined, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}

/** Sets (or, with null, removes) an attribute only if it changed. */
export function setAttr(el: Element | null | undefined, name: string, value: string | number | null): void {
  if (!el) return;
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
    return;
  }
  const s = String(value);
  if (el.getAttribute(name) !== s) el.setAttribute(name, s);
}

export function toggleClass(el: Element | null | undefined, name: string, on: boolean): void {
  if (el && el.classList.contains(name) !== on) el.classList.toggle(name, on);
}

/** Replaces an element's children only when `key` differs from the last time: cheap re-renders. */
export function replaceIfChanged(el: Element, key: string, build: () => Child): void {
  const holder = el as Element & { __key?: string };
  if (holder.__key === key) return;
  holder.__key = key;
  el.replaceChildren();
  append(el, [build()]);
}

const lists = new WeakMap<Element, Map<string, HTMLElement>>();

/**
 * Keeps `parent`'s children in step with `items`: rows are created once per key, updated in place
 * and moved only when the order changes, so an input being typed into is never thrown away.
 */
export function syncList<T>(
  parent: Element,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => HTMLElement,
  update: (el: HTMLElement, item: T) => void,
  /** A fixed child (a table's thead) the rows come after. */
  after: Element | null = null,
): void {
  let map = lists.get(parent);
  if (map === undefined) {
    map = new Map();
    lists.set(parent, map);
  }
  const seen = new Set<string>();
  let cursor: ChildNode | null = after !== null ? after.nextSibling : parent.firstChild;
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let el = map.get(k);
    if (el === undefined) {
      el = create(item);
      map.set(k, el);
    }
    update(el, item);
    if (el !== cursor) parent.insertBefore(el, cursor);
    else cursor = cursor.nextSibling;
  }
  for (const [k, el] of map) {
    if (!seen.has(k)) {
      el.remove();
      map.delete(k);
    }
  }
}

/** Calls `fn` at most once per animation frame however often it is asked. */
export function frameThrottle(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}
