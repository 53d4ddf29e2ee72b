/**
 * Inline SVG icons, drawn for this dashboard (24 x 24, stroked with currentColor): bundled, never
 * fetched. Icons go next to colours everywhere, so nothing is told by colour alone.
 */

const PATHS = {
  sun: '<circle cx="12" cy="12" r="4.5"/><path d="M12 1.5v3M12 19.5v3M1.5 12h3M19.5 12h3M4.6 4.6l2.1 2.1M17.3 17.3l2.1 2.1M4.6 19.4l2.1-2.1M17.3 6.7l2.1-2.1"/>',
  moon: '<path d="M20 14.5A8.5 8.5 0 0 1 9.5 4a8.5 8.5 0 1 0 10.5 10.5z"/>',
  panel: '<path d="M3 16 6 5h15l-3 11z"/><path d="M4.5 10.5h15M10.5 5 9 16M15.8 5l-1.6 11M11 16v4M7 20h9"/>',
  house: '<path d="M3 11 12 3.5 21 11"/><path d="M5.5 9.5V20h13V9.5"/><path d="M10 20v-5.5h4V20"/>',
  battery: '<rect x="3" y="7" width="16" height="10" rx="2"/><path d="M21 10.5v3"/>',
  grid: '<path d="M12 2 7 22M12 2l5 20M8.8 14h6.4M9.9 9.5h4.2M5 6.5h14M6.5 22h11"/>',
  heatpump: '<rect x="2.5" y="4.5" width="19" height="15" rx="2"/><circle cx="9" cy="12" r="4.2"/><path d="M9 7.8v8.4M4.8 12h8.4M16.5 9h2.5M16.5 12h2.5M16.5 15h2.5"/>',
  thermometer: '<path d="M14 14.8V4.5a2 2 0 0 0-4 0v10.3a4 4 0 1 0 4 0z"/><path d="M12 8v8"/>',
  air: '<path d="M3 8h11a3 3 0 1 0-3-3M3 12h16a3 3 0 1 1-3 3M3 16h7"/>',
  fan: '<circle cx="12" cy="12" r="1.8"/><path d="M12 10.2C11 6.5 12 3 14.6 3.4c2.4.4 1.6 4.4-2.6 6.8zM13.8 12.6c3.7-1 7.2 0 6.8 2.6-.4 2.4-4.4 1.6-6.8-2.6zM10.6 13.4c-2.7 2.8-6.2 3.7-7.3 1.3-1-2.2 2.8-3.6 7.3-1.3z"/>',
  drop: '<path d="M12 2.5S5.5 10 5.5 14.5a6.5 6.5 0 0 0 13 0C18.5 10 12 2.5 12 2.5z"/>',
  tank: '<path d="M5 4h14v16H5z"/><path d="M5 12c2.3-1.3 4.7 1.3 7 0s4.7 1.3 7 0"/>',
  warning: '<path d="M12 3 1.8 20.5h20.4z"/><path d="M12 9.5v5M12 17.5v.5"/>',
  stop: '<path d="M8 2.5h8l5.5 5.5v8L16 21.5H8L2.5 16V8z"/><path d="M8.5 8.5l7 7M15.5 8.5l-7 7"/>',
  hand: '<path d="M7 12V5.5a1.5 1.5 0 0 1 3 0V11M10 10.5V4a1.5 1.5 0 0 1 3 0v6.5M13 10.5V5a1.5 1.5 0 0 1 3 0v6M16 11V8.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-.5A6.5 6.5 0 0 1 6 19l-2.6-4.2a1.5 1.5 0 0 1 2.5-1.6L7 15"/>',
  lock: '<rect x="4.5" y="10.5" width="15" height="11" rx="2"/><path d="M8 10.5V7a4 4 0 0 1 8 0v3.5"/>',
  clock: '<circle cx="12" cy="12" r="9.5"/><path d="M12 6.5V12l3.5 2.5"/>',
  flask: '<path d="M9.5 2.5h5M10.5 2.5v6L4.5 19a1.8 1.8 0 0 0 1.6 2.5h11.8a1.8 1.8 0 0 0 1.6-2.5l-6-10.5v-6"/><path d="M7 15h10"/>',
  check: '<path d="M4 12.5 9.5 18 20 6.5"/>',
  cross: '<path d="M5.5 5.5l13 13M18.5 5.5l-13 13"/>',
  play: '<path d="M7 4.5v15l12-7.5z"/>',
  square: '<rect x="5.5" y="5.5" width="13" height="13" rx="1.5"/>',
  pause: '<path d="M8.5 5v14M15.5 5v14"/>',
  signal: '<path d="M4 20v-3M9 20v-6.5M14 20V10M19 20V5.5"/>',
  download: '<path d="M12 3.5v12M7 10.5l5 5 5-5M4 20.5h16"/>',
  refresh: '<path d="M20 11a8 8 0 1 0-2.3 6.1M20 4.5V11h-6.5"/>',
  chart: '<path d="M3.5 3.5v17h17"/><path d="M7 15l4-5 3.5 3 5-7"/>',
  bell: '<path d="M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15z"/><path d="M10 21h4"/>',
  shield: '<path d="M12 2.5 4 5.5v6c0 5 3.5 8.7 8 10 4.5-1.3 8-5 8-10v-6z"/>',
  user: '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
  logout: '<path d="M14.5 4.5h5v15h-5M10 16.5 5.5 12 10 7.5M5.5 12H16"/>',
  globe: '<circle cx="12" cy="12" r="9.5"/><path d="M2.5 12h19M12 2.5c3 3 3 16 0 19M12 2.5c-3 3-3 16 0 19"/>',
  plug: '<path d="M8 2.5v5M16 2.5v5M5.5 7.5h13v3a6.5 6.5 0 0 1-13 0zM12 17v4.5"/>',
  cpu: '<rect x="6" y="6" width="12" height="12" rx="1.5"/><path d="M9.5 2.5V6M14.5 2.5V6M9.5 18v3.5M14.5 18v3.5M2.5 9.5H6M2.5 14.5H6M18 9.5h3.5M18 14.5h3.5"/>',
  list: '<path d="M8.5 6h12M8.5 12h12M8.5 18h12M3.5 6h1M3.5 12h1M3.5 18h1"/>',
  wrench: '<path d="M14.5 6.5a4.5 4.5 0 0 0 5.9 5.9l-9.3 9.3a2.1 2.1 0 0 1-3-3l9.3-9.3a4.5 4.5 0 0 0-5.9-5.9l3 3v3h-3z"/>',
  bolt: '<path d="M13.5 2.5 4.5 13.5h7l-1 8 9-11h-7z"/>',
  printer: '<path d="M4 21.5V3.5h16v18M4 7.5h16"/><path d="M9.5 7.5v4M8 11.5h3l-1.5 2z"/><path d="M7.5 18.5h9"/>',
  robot: '<path d="M5 21.5h8M9 21.5v-4l6-6M15 11.5l4-4M19 7.5l-2-2M19 7.5l1.5 1.5"/><circle cx="9" cy="17.5" r="1.5"/><circle cx="15" cy="11.5" r="1.5"/>',
  leaf: '<path d="M4 20c0-9 6-15.5 16-16 .5 10-6 16-16 16z"/><path d="M4 20 13 11"/>',
} as const;

export type IconName = keyof typeof PATHS;

/** An icon as an SVG element; decorative (aria-hidden) because a text label always goes with it. */
export function icon(name: IconName, cls = ""): SVGSVGElement {
  const tpl = document.createElement("template");
  tpl.innerHTML = `<svg class="icon ${cls}" viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`;
  return tpl.content.firstElementChild as SVGSVGElement;
}

/** The same icon as markup, for placing inside an SVG picture at (x, y) with size s. */
export function iconMarkup(name: IconName, x: number, y: number, s: number, cls = ""): string {
  return `<svg class="icon ${cls}" x="${x}" y="${y}" width="${s}" height="${s}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${PATHS[name]}</svg>`;
}
