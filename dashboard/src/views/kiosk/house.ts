/**
 * The house inside: temperature, air (CO₂), ventilation, hot water, the rain-water tank and the
 * leak sensor, each as a big number with a plain sentence, an icon and its badges.
 */
import type { LiveStore } from "../../core/live-store.ts";
import { badgeKinds, isDoubtful, setBadges } from "../../components/badge.ts";
import { icon, type IconName } from "../../components/icons.ts";
import { h, replaceIfChanged, setText, toggleClass } from "../../core/dom.ts";
import { num, power } from "../../core/format.ts";
import { t, type StringKey } from "../../i18n/index.ts";

interface Tile {
  root: HTMLElement;
  value: HTMLElement;
  caption: HTMLElement;
  badges: HTMLElement;
  extra: HTMLElement;
}

function tile(id: string, iconName: IconName, title: string): Tile {
  const value = h("div", { class: "tile-value" }, "–");
  const caption = h("p", { class: "tile-caption" });
  const badges = h("div", { class: "badges" });
  const extra = h("div", { class: "tile-extra" });
  const root = h("article", { class: `ktile ktile-${id}`, "data-tile": id }, h("h3", null, icon(iconName), h("span", null, title), badges), value, extra, caption);
  return { root, value, caption, badges, extra };
}

/** CO₂ bands (ppm) with their words: a scale pupils can read without numbers. */
const CO2_BANDS: Array<{ max: number; key: StringKey; level: string }> = [
  { max: 800, key: "house.co2.fresh", level: "good" },
  { max: 1200, key: "house.co2.ok", level: "ok" },
  { max: 1500, key: "house.co2.stuffy", level: "stuffy" },
  { max: Infinity, key: "house.co2.bad", level: "bad" },
];

export function houseView(live: LiveStore): { el: HTMLElement; update(): void } {
  const temp = tile("temp", "thermometer", t("house.temp.title"));
  const air = tile("co2", "air", t("house.co2.title"));
  const vent = tile("vent", "fan", t("house.vent.title"));
  const hot = tile("hotwater", "drop", t("house.hot.title"));
  const rain = tile("rain", "tank", t("house.rain.title"));
  const leak = tile("leak", "drop", t("house.leak.title"));

  const scale = h(
    "ol",
    { class: "co2-scale", "aria-hidden": "true" },
    CO2_BANDS.map((b) => h("li", { class: `band band-${b.level}` }, t(b.key))),
  );
  const marker = h("div", { class: "co2-marker" });
  air.extra.append(h("div", { class: "co2-wrap" }, scale, marker));
  const tank = h("div", { class: "tank" }, h("div", { class: "tank-fill" }));
  rain.extra.append(tank);

  const grid = h("div", { class: "house-grid" }, temp.root, air.root, vent.root, hot.root, rain.root, leak.root);
  const el = h("section", { class: "kiosk-view view-house", "data-view": "house" }, h("p", { class: "flow-headline" }, t("house.headline")), grid);

  const show = (tl: Tile, device: string, channel: string, text: string, unit = "") => {
    const ch = live.channel(device, channel);
    const kinds = badgeKinds(ch, live.conn);
    const missing = ch?.value === null || ch === undefined;
    replaceIfChanged(tl.value, missing ? "–" : `${text}|${unit}`, () => (missing ? "–" : [text, unit ? h("span", { class: "tile-unit" }, ` ${unit}`) : null]));
    setBadges(tl.badges, kinds);
    toggleClass(tl.root, "doubtful", isDoubtful(kinds));
  };

  return {
    el,
    update() {
      const v = (d: string, c: string) => live.value(d, c);
      const inside = v("climate", "indoorTempC");
      const outside = v("heat-pump", "outdoorTempC");
      show(temp, "climate", "indoorTempC", num(inside ?? 0, 1), "°C");
      setText(temp.caption, `${inside === null ? "" : inside < 18 ? t("house.temp.cool") : inside > 24 ? t("house.temp.warm") : t("house.temp.nice")} ${outside === null ? "" : t("house.temp.outside", { t: num(outside, 1) })}`.trim());

      const co2 = v("climate", "co2Ppm");
      show(air, "climate", "co2Ppm", num(co2 ?? 0), "ppm");
      const band = CO2_BANDS.find((b) => (co2 ?? 0) < b.max) ?? CO2_BANDS[3];
      air.root.dataset.level = co2 === null ? "" : (band?.level ?? "");
      const word = t(band?.key ?? "house.co2.ok");
      setText(air.caption, co2 === null ? "" : `${word}${/[.!?]$/.test(word) ? "" : "."} ${t("house.co2.explain")}`);
      marker.style.left = `${Math.min(100, Math.max(0, (((co2 ?? 400) - 400) / 1600) * 100))}%`;

      const pct = v("climate", "ventilationPct");
      show(vent, "climate", "ventilationPct", num(pct ?? 0), "%");
      vent.root.dataset.running = String((pct ?? 0) > 0);
      vent.root.style.setProperty("--fan-s", `${(pct ?? 0) > 0 ? Math.max(0.4, 3 - (pct ?? 0) / 40) : 0}s`);
      setText(vent.caption, (pct ?? 0) > 0 ? t("house.vent.on", { pct: num(pct ?? 0) }) : t("house.vent.off"));

      const tank = v("water", "tankTempC");
      const heater = v("water", "heaterPowerW") ?? 0;
      show(hot, "water", "tankTempC", num(tank ?? 0, 1), "°C");
      setText(hot.caption, heater > 0 ? t("house.hot.heating", { p: power(heater) }) : t("house.hot.idle"));

      const level = v("water", "tankLevelPct");
      const flow = v("water", "pumpFlowLpm") ?? 0;
      show(rain, "water", "tankLevelPct", num(level ?? 0), "%");
      rain.root.style.setProperty("--level", `${Math.max(0, Math.min(100, level ?? 0))}%`);
      setText(rain.caption, flow > 0.05 ? t("house.rain.pumping", { l: num(flow, 1) }) : t("house.rain.still"));

      const wet = v("water", "leak");
      show(leak, "water", "leak", wet === null ? "–" : wet >= 1 ? t("house.leak.wet") : t("house.leak.dry"));
      leak.root.dataset.level = wet !== null && wet >= 1 ? "bad" : "good";
      replaceIfChanged(leak.extra, String(wet), () => icon(wet !== null && wet >= 1 ? "warning" : "check", "big-icon"));
      setText(leak.caption, wet !== null && wet >= 1 ? t("house.leak.wetCaption") : t("house.leak.dryCaption"));
    },
  };
}
