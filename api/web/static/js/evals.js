// Eval runs (admin): start a retrieval or answer eval on a BEIR dataset the server can read, watch
// its progress, read the metrics table and the recall@k plot, compare two runs side by side.
// Coded against the /v1/evals contract (issue 18); a server without it says so.

import { api, apiBlob } from "./api.js";
import { clear, fmtDate, fmtScore, h, toast } from "./dom.js";

const METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"];
const RUNNING = new Set(["queued", "pending", "running"]);
let timer = null;
let urls = [];
const chosen = new Set();

export function hide() {
  clearTimeout(timer);
  timer = null;
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
}

export async function show(view) {
  hide();
  const field = (id, label, control) => h("div", h("label", { for: id }, label), control);
  const kind = h("select#e-kind", ["retrieval", "answers"].map((k) => h("option", { value: k }, k)));
  const dataset = h("input#e-dataset", { type: "text", required: true, placeholder: "/path/to/beir/scifact" });
  const split = h("input#e-split", { type: "text", value: "test" });
  const type = h("select#e-type", ["hybrid", "vector", "keyword"].map((t) => h("option", { value: t }, t)));
  const limit = h("input#e-limit", { type: "number", min: "1", placeholder: "all queries" });
  const name = h("input#e-name", { type: "text", placeholder: "optional" });
  const form = h("form.card",
    h("h2", "Start a run"),
    h("div.row", field("e-kind", "Kind", kind), h("div.grow", field("e-dataset", "Dataset (BEIR folder on the server)", dataset)),
      field("e-split", "Split", split), field("e-type", "Search type", type), field("e-limit", "Query limit", limit),
      field("e-name", "Name", name), h("button", { type: "submit" }, "Start")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: kind.value, dataset: dataset.value, split: split.value || "test", search_type: type.value, name: name.value || null };
    if (limit.value) body.limit = Number(limit.value);
    try { await api("POST", "/v1/evals", body); toast("Eval started"); await refresh(); } catch (err) { toast(err.message, "error"); }
  });
  const runs = h("div.card#eval-runs");
  const detail = h("div#eval-detail");
  clear(view, h("h1", "Evals"), form, runs, detail);
  await refresh();
}

async function refresh() {
  const el = document.getElementById("eval-runs");
  if (!el) return;
  let data;
  try {
    data = await api("GET", "/v1/evals");
  } catch (err) {
    clear(el, h("p.error", err.status === 404 ? "This server has no eval runs API (/v1/evals)." : err.message));
    return;
  }
  const compare = h("button.secondary#compare", { type: "button", disabled: chosen.size !== 2, on: { click: () => showCompare([...chosen]) } }, "Compare the two chosen");
  const rows = data.items.map((r) => {
    const box = h("input", { type: "checkbox", "aria-label": `Choose ${r.name || r.eval_id} to compare`, checked: chosen.has(r.eval_id) });
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(r.eval_id); else chosen.delete(r.eval_id);
      compare.disabled = chosen.size !== 2;
    });
    const p = r.progress || { done: 0, total: 0 };
    return h("tr", { dataset: { evalId: r.eval_id, status: r.status } },
      h("td", box),
      h("td", h("a", { href: "#/evals", on: { click: (e) => { e.preventDefault(); showRun(r.eval_id); } } }, r.name || r.eval_id)),
      h("td", `${r.kind} · ${r.search_type}`), h("td.hide-narrow", r.dataset),
      h("td", h(`span.badge.status-${r.status === "completed" ? "completed" : r.status === "failed" ? "failed" : "pending"}`, r.status),
        RUNNING.has(r.status) ? h("progress", { max: String(p.total || 1), value: String(p.done || 0) }) : null,
        r.error ? h("div.error", r.error) : null),
      ...METRICS.map((m) => h("td", fmtScore(r.metrics?.[m]))),
      h("td.hide-narrow", fmtDate(r.created_at)));
  });
  clear(el, h("h2", "Runs"), compare, h("div.table-wrap", h("table.metrics",
    h("thead", h("tr", ["", "Run", "Kind", "Dataset", "Status", ...METRICS, "Started"].map((t, i) => h(i === 3 || i === 9 ? "th.hide-narrow" : "th", { scope: "col" }, t)))),
    h("tbody", rows))));
  if (data.items.some((r) => RUNNING.has(r.status))) {
    clearTimeout(timer);
    timer = setTimeout(refresh, 2000);
  }
}

async function plot(id) {
  try {
    const url = URL.createObjectURL(await apiBlob(`/v1/evals/${encodeURIComponent(id)}/report?format=png`));
    urls.push(url);
    return h("div.plot", h("img", { src: url, alt: "recall@k plot" }));
  } catch {
    return h("p.muted", "No plot yet.");
  }
}

async function reportLink(id, format) {
  return h("button.secondary", { type: "button", on: { click: async () => {
    const url = URL.createObjectURL(await apiBlob(`/v1/evals/${encodeURIComponent(id)}/report?format=${format}`));
    const a = h("a", { href: url, download: `eval-${id}.${format}` });
    document.body.append(a); a.click(); a.remove();
  } } }, `Per-query ${format.toUpperCase()}`);
}

async function runCard(id) {
  const r = await api("GET", `/v1/evals/${encodeURIComponent(id)}`);
  return h("div.card", h("h2", r.name || r.eval_id),
    h("p.muted", `${r.kind} · ${r.dataset} (${r.split}) · ${r.search_type}${r.limit ? ` · ${r.limit} queries` : ""} · ${r.status}`),
    h("table.metrics", h("tbody", METRICS.map((m) => h("tr", h("th", { scope: "row" }, m), h("td", fmtScore(r.metrics?.[m])))))),
    await plot(id), h("div.row", await reportLink(id, "json"), await reportLink(id, "csv")));
}

async function showRun(id) {
  const el = document.getElementById("eval-detail");
  clear(el, await runCard(id));
  el.scrollIntoView();
}

async function showCompare([a, b]) {
  const el = document.getElementById("eval-detail");
  const [ra, rb] = await Promise.all([api("GET", `/v1/evals/${a}`), api("GET", `/v1/evals/${b}`)]);
  const delta = (m) => (ra.metrics?.[m] != null && rb.metrics?.[m] != null ? (rb.metrics[m] - ra.metrics[m]).toFixed(4) : "–");
  clear(el, h("div.card", h("h2", "Comparison"), h("table.metrics#compare-table",
    h("thead", h("tr", h("th", "Metric"), h("th", ra.name || a), h("th", rb.name || b), h("th", "Δ"))),
    h("tbody", METRICS.map((m) => h("tr", h("th", { scope: "row" }, m), h("td", fmtScore(ra.metrics?.[m])), h("td", fmtScore(rb.metrics?.[m])), h("td", delta(m))))))),
    h("div.compare", await runCard(a), await runCard(b)));
}
