// Eval runs (admin): start a retrieval run on a BEIR folder the server can read or on uploaded
// queries + qrels (and, optionally, a corpus), or an answers run on a QA file on the server; watch its
// progress; read the metrics, the recall@k plot and the per-query table; compare two runs side by
// side. Everything goes through /v1/evals (issue 18); the plot is fetched with the key and shown as
// a blob: URL (the page's CSP allows 'self', blob: and data: images only).

import { api, apiBlob } from "./api.js";
import { clear, fmtDate, fmtScore, h, toast } from "./dom.js";

const METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"];
const KS = [1, 3, 5, 10, 20, 50, 100];
const OPEN = new Set(["queued", "running"]);
const POLL_MS = 1000;
let listTimer = null;
let detailTimer = null;
let urls = [];
let detailSeq = 0;
const chosen = new Set();

export function hide() {
  clearTimeout(listTimer);
  clearTimeout(detailTimer);
  listTimer = detailTimer = null;
  detailSeq++;
  dropUrls();
}

function dropUrls() {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
}

export async function show(view) {
  hide();
  clear(view, h("h1", "Evals"), startForm(), h("div.card#eval-runs"), h("div#eval-detail"));
  await refresh();
}

// -- starting a run ------------------------------------------------------------------------------

function startForm() {
  const field = (id, label, control) => h("div", h("label", { for: id }, label), control);
  const source = h("select#e-source",
    h("option", { value: "server" }, "A dataset on the server"), h("option", { value: "upload" }, "Upload files"));
  const kind = h("select#e-kind", ["retrieval", "answers"].map((k) => h("option", { value: k }, k)));
  const dataset = h("input#e-dataset", { type: "text", placeholder: "/path/to/beir/scifact" });
  const queries = h("input#e-queries", { type: "file", accept: ".jsonl,.json,application/jsonl" });
  const qrels = h("input#e-qrels", { type: "file", accept: ".tsv,.txt,text/tab-separated-values" });
  const corpus = h("input#e-corpus", { type: "file", accept: ".jsonl,.json,application/jsonl" });
  const split = h("input#e-split", { type: "text", value: "test", size: 8 });
  const type = h("select#e-type", ["hybrid", "vector", "keyword"].map((t) => h("option", { value: t }, t)));
  const limit = h("input#e-limit", { type: "number", min: "1", placeholder: "all queries" });
  const name = h("input#e-name", { type: "text", placeholder: "optional" });
  const error = h("p.error#e-error", { role: "alert" });
  const submit = h("button#e-start", { type: "submit" }, "Start");
  const onServer = h("div.grow#e-on-server",
    field("e-dataset", "Dataset: a BEIR folder (retrieval) or a QA JSONL file (answers) on the server", dataset));
  const onUpload = h("div.row#e-on-upload", { hidden: true },
    field("e-queries", "queries.jsonl", queries), field("e-qrels", "qrels (.tsv)", qrels),
    field("e-corpus", "corpus.jsonl (optional: without it, Lectern's own documents)", corpus));
  source.addEventListener("change", () => {
    const upload = source.value === "upload";
    onServer.hidden = upload;
    onUpload.hidden = !upload;
    if (upload) kind.value = "retrieval"; // uploads are retrieval runs only
    kind.disabled = upload;
  });
  const form = h("form.card#eval-form", h("h2", "Start a run"),
    h("div.row", field("e-source", "Source", source), field("e-kind", "Kind", kind), onServer), onUpload,
    h("div.row", field("e-split", "Split", split), field("e-type", "Search type", type),
      field("e-limit", "Query limit", limit), field("e-name", "Name", name), submit),
    error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    let body;
    if (source.value === "upload") {
      if (!queries.files.length || !qrels.files.length) {
        error.textContent = "Choose a queries file and a qrels file.";
        return;
      }
      body = new FormData();
      body.append("queries", queries.files[0]);
      body.append("qrels", qrels.files[0]);
      if (corpus.files.length) body.append("corpus", corpus.files[0]);
      for (const [k, v] of [["split", split.value], ["search_type", type.value], ["limit", limit.value], ["name", name.value]]) {
        if (v) body.append(k, v);
      }
    } else {
      if (!dataset.value.trim()) {
        error.textContent = "Give the dataset's path on the server.";
        return;
      }
      body = { kind: kind.value, dataset: dataset.value.trim(), split: split.value || "test", search_type: type.value, name: name.value || null };
      if (limit.value) body.limit = Number(limit.value);
    }
    submit.disabled = true;
    try {
      const run = await api("POST", "/v1/evals", body);
      toast(`Eval ${run.name || run.eval_id.slice(0, 8)} queued`);
      await refresh();
      showRun(run.eval_id);
    } catch (err) {
      error.textContent = describe(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** An API error in words: the server's message, and which field was wrong for a 422. */
function describe(err) {
  const first = err.envelope?.details?.errors?.[0];
  if (err.status === 422 && first) return `The run was not started: ${first.field.replace(/^body\./, "")}: ${first.problem}`;
  return `The run was not started: ${err.message}`;
}

// -- the list of runs ----------------------------------------------------------------------------

const badge = (status) => h(`span.badge.status-${status === "completed" ? "completed" : status === "failed" ? "failed" : status === "cancelled" ? "cancelled" : "pending"}`, status);

function progressOf(r) {
  const p = r.progress || { done: 0, total: null };
  if (!OPEN.has(r.status)) return null;
  const counted = p.phase === "searching" || p.phase === "asking";
  const words = r.status === "queued" ? "waiting for the worker"
    : counted ? `${p.phase} ${p.done}/${p.total ?? "?"}`
    : p.phase === "indexing" ? "indexing the corpus (its first run only)" : "starting";
  // Indexing the corpus has no count: an indeterminate bar until the queries start.
  const bar = counted ? h("progress", { max: String(p.total || 1), value: String(p.done || 0) }) : h("progress");
  return h("div.eval-progress", bar, h("span.muted", ` ${words}`));
}

async function refresh() {
  const el = document.getElementById("eval-runs");
  if (!el) return;
  let data;
  try {
    data = await api("GET", "/v1/evals?limit=50");
  } catch (err) {
    clear(el, h("p.error", err.status === 404 ? "This server has no eval runs API (/v1/evals)." : err.message));
    return;
  }
  if (!el.isConnected) return;
  const ids = new Set(data.items.map((r) => r.eval_id));
  for (const id of [...chosen]) if (!ids.has(id)) chosen.delete(id);
  const compare = h("button.secondary#compare", { type: "button", disabled: chosen.size !== 2, on: { click: () => showCompare([...chosen]) } }, "Compare the two chosen");
  const rows = data.items.map((r) => {
    const box = h("input", { type: "checkbox", "aria-label": `Choose ${r.name || r.eval_id} to compare`, checked: chosen.has(r.eval_id), disabled: r.status !== "completed" });
    box.addEventListener("change", () => {
      if (box.checked) chosen.add(r.eval_id); else chosen.delete(r.eval_id);
      compare.disabled = chosen.size !== 2;
    });
    return h("tr", { dataset: { evalId: r.eval_id, status: r.status } },
      h("td", box),
      h("td", h("a", { href: "#/evals", on: { click: (e) => { e.preventDefault(); showRun(r.eval_id); } } }, r.name || r.eval_id.slice(0, 8))),
      h("td", `${r.kind} · ${r.search_type}`), h("td.hide-narrow.eval-dataset", { title: r.dataset }, datasetLabel(r.dataset)),
      h("td", badge(r.status), progressOf(r), r.error ? h("div.error", r.error) : null),
      ...METRICS.map((m) => metricCell(r, m)),
      h("td.hide-narrow", fmtDate(r.created_at)),
      h("td", h("button.icon", { type: "button", title: OPEN.has(r.status) ? "Cancel this run" : "Delete this run",
        "aria-label": `${OPEN.has(r.status) ? "Cancel" : "Delete"} ${r.name || r.eval_id}`, on: { click: () => remove(r) } }, OPEN.has(r.status) ? "Cancel" : "✕")));
  });
  const head = ["", "Run", "Kind", "Dataset", "Status", ...METRICS, "Started", ""];
  clear(el, h("h2", "Runs"),
    data.items.length ? [compare, h("div.table-wrap", h("table.metrics#eval-table",
      h("thead", h("tr", head.map((t, i) => h(i === 3 || i === 9 ? "th.hide-narrow" : "th", { scope: "col" }, t)))),
      h("tbody", rows)))] : h("p.muted", "No run yet."));
  clearTimeout(listTimer);
  if (data.items.some((r) => OPEN.has(r.status))) listTimer = setTimeout(refresh, POLL_MS);
}

/** Uploaded files live under $LECTERN_HOME/eval-datasets/<run id>: say "uploaded" rather than that path. */
const datasetLabel = (path) => (/[\\/]eval-datasets[\\/][0-9a-f]+$/.test(path) ? "uploaded files" : path);

function metricCell(r, m) {
  const v = r.metrics?.[m];
  return h("td", { dataset: v == null ? { metric: m } : { metric: m, value: String(v) } }, fmtScore(v));
}

async function remove(r) {
  const open = OPEN.has(r.status);
  if (!confirm(open ? `Cancel the run ${r.name || r.eval_id}?` : `Delete the run ${r.name || r.eval_id} and its report?`)) return;
  try {
    await api("DELETE", `/v1/evals/${encodeURIComponent(r.eval_id)}`);
    chosen.delete(r.eval_id);
    const detail = document.getElementById("eval-detail");
    if (!open && detail?.dataset.evalId === r.eval_id) clear(detail);
    await refresh();
  } catch (err) {
    toast(err.message, "error");
  }
}

// -- one run -------------------------------------------------------------------------------------

const runUrl = (id, rest = "") => `/v1/evals/${encodeURIComponent(id)}${rest}`;

async function plot(id, compare = []) {
  const extra = compare.map((c) => `&compare=${encodeURIComponent(c)}`).join("");
  try {
    const url = URL.createObjectURL(await apiBlob(runUrl(id, `/report?format=png${extra}`)));
    urls.push(url);
    return h("div.plot", h("img", { src: url, alt: compare.length ? "recall@k of the compared runs" : "recall@k plot" }));
  } catch (err) {
    return h("p.error", `The plot could not be loaded: ${err.message}`);
  }
}

function download(id, format) {
  return h("button.secondary", { type: "button", on: { click: async () => {
    try {
      const url = URL.createObjectURL(await apiBlob(runUrl(id, `/report?format=${format}`)));
      const a = h("a", { href: url, download: `eval-${id}.${format}` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) { toast(err.message, "error"); }
  } } }, `Per-query ${format.toUpperCase()}`);
}

function metricsTable(r) {
  const m = r.metrics || {};
  if (r.kind === "answers") {
    const keys = Object.keys(m).sort();
    return h("table.metrics.eval-metrics", h("tbody", keys.map((k) => h("tr", h("th", { scope: "row" }, k), h("td", { dataset: { metric: k, value: String(m[k]) } }, fmtScore(m[k]))))));
  }
  const row = (label, key) => h("tr", h("th", { scope: "row" }, label), h("td", { dataset: { metric: key, value: String(m[key]) } }, fmtScore(m[key])));
  const ms = (key) => (m[key] == null ? "–" : `${Math.round(m[key])} ms`);
  return h("div.eval-numbers",
    h("table.metrics.eval-metrics", h("tbody",
      row("nDCG@10", "ndcg@10"), row("Recall@10", "recall@10"), row("Recall@100", "recall@100"), row("MRR@10", "mrr@10"),
      h("tr", h("th", { scope: "row" }, "Search latency p50 / p95"), h("td", `${ms("latency_p50_ms")} / ${ms("latency_p95_ms")}`)))),
    h("div.table-wrap", h("table.metrics.eval-curve",
      h("thead", h("tr", h("th", { scope: "col" }, "k"), KS.map((k) => h("th", { scope: "col" }, String(k))))),
      h("tbody", h("tr", h("th", { scope: "row" }, "Recall@k"), KS.map((k) => h("td", { dataset: { metric: `recall@${k}`, value: String(m[`recall@${k}`]) } }, fmtScore(m[`recall@${k}`]))))))));
}

function perQueryTable(report) {
  if (!report.rows.length) return h("p.muted", "No query in the report.");
  if (report.kind === "answers") {
    const cols = Object.keys(report.rows[0]).filter((k) => typeof report.rows[0][k] !== "object").slice(0, 8);
    return h("div.table-wrap.per-query", h("table.metrics#per-query",
      h("thead", h("tr", cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", report.rows.map((row) => h("tr", cols.map((c) => h("td", typeof row[c] === "number" ? fmtScore(row[c]) : String(row[c] ?? ""))))))));
  }
  const rows = [...report.rows].sort((a, b) => a["ndcg@10"] - b["ndcg@10"]); // the worst first: where to look
  return h("div.table-wrap.per-query", h("table.metrics#per-query",
    h("thead", h("tr", ["Query", "", ...METRICS, "Relevant", "Top 3 found"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows.map((row) => h("tr", { dataset: { queryId: row.query_id } },
      h("td", row.query_id), h("td.eval-query", row.query),
      METRICS.map((m) => h("td", fmtScore(row[m]))),
      h("td", (row.relevant || []).join(", ")),
      h("td", (row.top10 || []).slice(0, 3).map((d) => ((row.relevant || []).includes(d) ? h("strong", d) : d)).flatMap((x, i) => (i ? [", ", x] : [x]))))))));
}

async function runCard(id, seq) {
  const r = await api("GET", runUrl(id));
  const head = [h("h2", r.name || r.eval_id),
    h("p.muted", `${r.kind} · ${datasetLabel(r.dataset)} (${r.split}) · ${r.search_type}${r.limit ? ` · first ${r.limit} queries` : ""}`),
    h("div.eval-status", badge(r.status), " ", progressOf(r), r.error ? h("span.error", ` ${r.error}`) : null)];
  if (r.status !== "completed") {
    if (OPEN.has(r.status)) detailTimer = setTimeout(() => seq === detailSeq && showRun(id, seq), POLL_MS);
    return h("div.card#eval-run", { dataset: { evalId: id, status: r.status } }, head);
  }
  const [picture, report] = await Promise.all([plot(id), api("GET", runUrl(id, "/report?format=json")).catch((err) => err)]);
  return h("div.card#eval-run", { dataset: { evalId: id, status: r.status } }, head, metricsTable(r), picture,
    h("h3", "Per query"),
    report instanceof Error ? h("p.error", `The per-query table could not be loaded: ${report.message}`) : perQueryTable(report),
    h("div.row", download(id, "json"), download(id, "csv")));
}

async function showRun(id, seq) {
  const el = document.getElementById("eval-detail");
  if (!el) return;
  const fresh = seq === undefined;
  if (fresh) { clearTimeout(detailTimer); seq = ++detailSeq; }
  let card;
  try {
    card = await runCard(id, seq);
  } catch (err) {
    card = h("p.error", { role: "alert" }, `The run could not be loaded: ${err.message}`);
  }
  if (seq !== detailSeq || !el.isConnected) return;
  dropUrlsExcept(card);
  el.dataset.evalId = id;
  clear(el, card);
  if (fresh) el.scrollIntoView();
  if (card.dataset?.status && !OPEN.has(card.dataset.status)) refresh(); // the list's row catches up
}

/** Revoke the object URLs no longer shown (the detail was replaced). */
function dropUrlsExcept(card) {
  const kept = new Set([...card.querySelectorAll("img")].map((i) => i.src));
  for (const u of urls) if (!kept.has(u)) URL.revokeObjectURL(u);
  urls = urls.filter((u) => kept.has(u));
}

// -- two runs side by side -----------------------------------------------------------------------

async function showCompare([a, b]) {
  const el = document.getElementById("eval-detail");
  clearTimeout(detailTimer);
  const seq = ++detailSeq;
  let card;
  try {
    const [ra, rb] = await Promise.all([api("GET", runUrl(a)), api("GET", runUrl(b))]);
    const [picture, qa, qb] = await Promise.all([plot(a, [b]), api("GET", runUrl(a, "/report?format=json")), api("GET", runUrl(b, "/report?format=json"))]);
    const label = (r) => `${r.name || r.eval_id.slice(0, 8)} (${r.search_type})`;
    const keys = ra.kind === "retrieval" && rb.kind === "retrieval"
      ? [...METRICS, ...KS.filter((k) => k !== 10 && k !== 100).map((k) => `recall@${k}`)]
      : [...new Set([...Object.keys(ra.metrics || {}), ...Object.keys(rb.metrics || {})])].sort();
    const delta = (m) => (ra.metrics?.[m] != null && rb.metrics?.[m] != null ? (rb.metrics[m] - ra.metrics[m]).toFixed(3) : "–");
    const cell = (r, m) => h("td", { dataset: { run: r.eval_id, metric: m, value: String(r.metrics?.[m]) } }, fmtScore(r.metrics?.[m]));
    card = h("div.card#eval-compare", { dataset: { a, b } }, h("h2", `Comparison: ${label(ra)} and ${label(rb)}`),
      h("div.compare",
        h("div.table-wrap", h("table.metrics#compare-table",
          h("thead", h("tr", h("th", { scope: "col" }, "Metric"), h("th", { scope: "col" }, label(ra)), h("th", { scope: "col" }, label(rb)), h("th", { scope: "col" }, "Δ"))),
          h("tbody", keys.map((m) => h("tr", h("th", { scope: "row" }, m), cell(ra, m), cell(rb, m), h("td", delta(m))))))),
        picture),
      ra.kind === "retrieval" && rb.kind === "retrieval" ? [h("h3", "nDCG@10 per query"), compareQueries(qa, qb, label(ra), label(rb))] : null);
  } catch (err) {
    card = h("p.error", { role: "alert" }, `The runs could not be compared: ${err.message}`);
  }
  if (seq !== detailSeq || !el?.isConnected) return;
  dropUrlsExcept(card);
  el.dataset.evalId = "";
  clear(el, card);
  el.scrollIntoView();
}

function compareQueries(qa, qb, la, lb) {
  const other = new Map(qb.rows.map((r) => [r.query_id, r]));
  const rows = qa.rows.filter((r) => other.has(r.query_id)).map((r) => [r, other.get(r.query_id)]);
  rows.sort(([x, y], [p, q]) => Math.abs(q["ndcg@10"] - p["ndcg@10"]) - Math.abs(y["ndcg@10"] - x["ndcg@10"])); // biggest change first
  return h("div.table-wrap.per-query", h("table.metrics#compare-queries",
    h("thead", h("tr", ["Query", "", la, lb, "Δ"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows.map(([x, y]) => h("tr", h("td", x.query_id), h("td.eval-query", x.query), h("td", fmtScore(x["ndcg@10"])),
      h("td", fmtScore(y["ndcg@10"])), h("td", (y["ndcg@10"] - x["ndcg@10"]).toFixed(3)))))));
}
