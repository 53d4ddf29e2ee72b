/**
 * The audit log: filter by time range, actor, action (a prefix with *), target and result, page
 * back through older records, and export the same filter as CSV (fetched with the session's token
 * and saved as a file: the browser never puts the token in a URL).
 */
import { errorText } from "../../components/notice.ts";
import { icon } from "../../components/icons.ts";
import { apiDownload, apiGet, query } from "../../core/api.ts";
import type { AppContext } from "../../core/app.ts";
import { h, setText } from "../../core/dom.ts";
import { auditKind, dateTime, detailValue, type AuditKind } from "../../core/format.ts";
import { token } from "../../core/session.ts";
import { lang, t } from "../../i18n/index.ts";
import type { AuditRecord } from "../../../../hub/src/core/audit.ts";
import type { Tab } from "./tab.ts";

const PAGE = 100;
const KNOWN_ACTIONS = ["actuator.start", "actuator.stop", "actuator.*", "alarm.acknowledge", "estop.trigger", "interlock.*", "interlock.reset", "interlock.tripped", "kiosk.refused", "session.*", "session.login", "sim.*"];

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function fromLocalInput(v: string): number | null {
  if (v === "") return null;
  const ms = new Date(v).getTime();
  return Number.isFinite(ms) ? ms : null;
}

const KIND_ICON = { ok: "check", refused: "warning", failed: "warning", trip: "stop", cleared: "clock", event: "list" } as const;

/** A command's result, or what the hub recorded happening (a trip is not a command that went well). */
export function kindChip(kind: AuditKind): HTMLElement {
  const word = kind === "ok" || kind === "refused" || kind === "failed" ? t(`audit.result.${kind}`) : t(`audit.kind.${kind}`);
  return h("span", { class: `chip result-${kind}`, "data-kind": kind }, icon(KIND_ICON[kind]), word);
}

function detailsText(r: AuditRecord): string {
  const d = r.details ?? {};
  const params = typeof d.params === "object" && d.params !== null ? (d.params as Record<string, unknown>) : null;
  const parts: string[] = [];
  const fmt = (k: string, v: unknown) => (k === "comment" && typeof v === "string" ? `“${v}”` : `${k}=${detailValue(k, v)}`);
  if (params) for (const [k, v] of Object.entries(params)) parts.push(fmt(k, v));
  for (const [k, v] of Object.entries(d)) if (k !== "params" && k !== "reasonNl") parts.push(fmt(k, v));
  return parts.join(", ");
}

export function auditTab(ctx: AppContext): Tab {
  const now = ctx.live.now();
  const from = h("input", { type: "datetime-local", name: "from", value: toLocalInput(now - 24 * 3600_000) });
  const to = h("input", { type: "datetime-local", name: "to" });
  const actor = h("input", { type: "text", name: "actor", autocomplete: "off" });
  const action = h("input", { type: "text", name: "action", list: "audit-actions", autocomplete: "off", placeholder: "interlock.*" });
  const target = h("input", { type: "text", name: "target", autocomplete: "off" });
  const result = h(
    "select",
    { name: "result" },
    h("option", { value: "" }, t("audit.result.any")),
    h("option", { value: "ok" }, t("audit.result.ok")),
    h("option", { value: "refused" }, t("audit.result.refused")),
    h("option", { value: "failed" }, t("audit.result.failed")),
  );
  const field = (label: string, input: HTMLElement) => h("label", { class: "field" }, h("span", null, label), input);
  const search = h("button", { type: "submit", class: "btn btn-primary" }, icon("refresh"), t("audit.search"));
  const exportBtn = h("button", { type: "button", class: "btn", "data-testid": "audit-csv" }, icon("download"), t("audit.export"));
  const form = h(
    "form",
    { class: "filters", "data-testid": "audit-filters" },
    field(t("audit.from"), from),
    field(t("audit.to"), to),
    field(t("audit.actor"), actor),
    field(t("audit.action"), action),
    field(t("audit.target"), target),
    field(t("audit.resultLabel"), result),
    h("div", { class: "filter-buttons" }, search, exportBtn),
    h("datalist", { id: "audit-actions" }, KNOWN_ACTIONS.map((a) => h("option", { value: a }))),
  );
  const status = h("p", { class: "load-status", role: "status" });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("audit.more"));
  const table = h(
    "table",
    { class: "table audit-table", "data-testid": "audit-table" },
    h("thead", null, h("tr", null, ...(["time", "actor", "action", "target", "result", "reason", "details"] as const).map((k) => h("th", { scope: "col" }, t(`audit.col.${k}`))))),
    body,
  );
  const el = h("section", { class: "card" }, h("h2", null, icon("list"), t("tab.audit")), form, status, h("div", { class: "table-wrap" }, table), more);

  let next: number | null = null;

  const filter = () => ({
    from: fromLocalInput(from.value),
    to: fromLocalInput(to.value),
    actor: actor.value.trim(),
    action: action.value.trim(),
    target: target.value.trim(),
    result: result.value,
  });

  const row = (r: AuditRecord) => {
    const reasonNl = r.details && typeof r.details.reasonNl === "string" ? r.details.reasonNl : null;
    const kind = auditKind(r);
    return h(
      "tr",
      { "data-seq": r.seq, "data-action": r.action, "data-result": r.result, "data-kind": kind },
      h("td", { class: "mono" }, dateTime(r.at)),
      h("td", null, r.actor.name, h("span", { class: "muted small" }, ` (${r.actor.role})`)),
      h("td", null, h("code", null, r.action)),
      h("td", null, h("code", null, r.target)),
      h("td", null, kindChip(kind)),
      h("td", null, lang() === "nl" && reasonNl ? reasonNl : (r.reason ?? "")),
      h("td", { class: "details" }, detailsText(r)),
    );
  };

  const load = async (append: boolean) => {
    const f = filter();
    setText(status, t("load.loading"));
    try {
      const page = await apiGet<{ records: AuditRecord[]; nextBeforeSeq: number | null }>(`/api/audit${query({ ...f, limit: PAGE, beforeSeq: append ? next : null })}`, token());
      if (!append) body.replaceChildren();
      body.append(...page.records.map(row));
      next = page.nextBeforeSeq;
      more.hidden = next === null;
      setText(status, body.children.length === 0 ? t("audit.none") : t("audit.count", { n: body.children.length }));
    } catch (error) {
      setText(status, `${t("load.failed")}: ${errorText(error)}`);
    }
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load(false);
  });
  more.addEventListener("click", () => void load(true));
  exportBtn.addEventListener("click", () => {
    const f = filter();
    exportBtn.disabled = true;
    setText(status, t("audit.exporting"));
    apiDownload(`/api/audit.csv${query(f)}`, token())
      .then(({ blob, fileName, headers }) => {
        const url = URL.createObjectURL(blob);
        const a = h("a", { href: url, download: fileName ?? "tec-audit.csv", hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        const cut = headers.get("x-audit-next-before-seq");
        setText(status, `${t("audit.exported", { file: fileName ?? "tec-audit.csv" })}${cut ? ` ${t("audit.exportCut")}` : ""}`);
      })
      .catch((error: unknown) => setText(status, `${t("load.failed")}: ${errorText(error)}`))
      .finally(() => {
        exportBtn.disabled = false;
      });
  });

  void load(false);
  return { el };
}
