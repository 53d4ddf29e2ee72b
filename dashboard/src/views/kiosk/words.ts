/** Plain-language words for the kiosk: everyday comparisons a 9-year-old can picture (the rest is in story.ts). */
import { PHONE_CHARGE_WH } from "../../core/energy.ts";
import { num } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";

/** "160 keer je telefoon opladen". */
export function phoneCharges(wh: number): string {
  return t("eq.phones", { n: num(Math.round(wh / PHONE_CHARGE_WH)) });
}
