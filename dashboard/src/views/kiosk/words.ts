/** Plain-language words for the kiosk: everyday comparisons a 9-year-old can picture. */
import { equivalent, PHONE_CHARGE_WH } from "../../core/energy.ts";
import { num } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";

/** "12 laptops", "1,5 waterkokers", "1 ledlamp". */
export function thingCount(w: number): string | null {
  const eq = equivalent(w);
  if (eq === null) return null;
  const one = eq.count === 1;
  const n = num(eq.count, Number.isInteger(eq.count) ? 0 : 1);
  switch (eq.kind) {
    case "kettle":
      return t(one ? "eq.kettle.one" : "eq.kettle.other", { n });
    case "laptop":
      return t(one ? "eq.laptop.one" : "eq.laptop.other", { n });
    case "ledLamp":
      return t(one ? "eq.ledLamp.one" : "eq.ledLamp.other", { n });
  }
}

/** "Genoeg voor 48 laptops" (what is made) or "Zoveel als 22 laptops" (what is used). */
export function equivalentText(w: number, verb: "makes" | "uses"): string {
  const what = thingCount(w);
  if (what === null) return verb === "makes" ? t("eq.nothingMade") : t("eq.nothingUsed");
  return t(verb === "makes" ? "eq.enough" : "eq.asMuch", { what });
}

/** "160 keer je telefoon opladen". */
export function phoneCharges(wh: number): string {
  return t("eq.phones", { n: num(Math.round(wh / PHONE_CHARGE_WH)) });
}
