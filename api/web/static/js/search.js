// The search playground: POST /v1/retrieve with the search type, top-k, vector weight and filters;
// each hit with both legs' scores and the fused score, and the server's time.

import { api } from "./api.js";
import { clear, fmtScore, h } from "./dom.js";

export async function show(view) {
  const field = (id, label, control) => h("div", h("label", { for: id }, label), control);
  const q = h("input#s-q", { type: "search", required: true, placeholder: "a query" });
  const type = h("select#s-type", ["hybrid", "vector", "keyword"].map((t) => h("option", { value: t }, t)));
  const topK = h("input#s-k", { type: "number", min: "1", max: "100", value: "10" });
  const weight = h("input#s-w", { type: "range", min: "0", max: "1", step: "0.05", value: "0.45" });
  const weightOut = h("output#s-w-out", "0.45");
  weight.addEventListener("input", () => { weightOut.textContent = weight.value; });
  const useWeight = h("input#s-w-on", { type: "checkbox" });
  const tags = h("input#s-tags", { type: "text", placeholder: "a,b" });
  const collection = h("input#s-collection", { type: "text", placeholder: "any" });
  const docType = h("input#s-doctype", { type: "text", placeholder: "any" });
  const results = h("div#search-results");
  const form = h("form.card", { role: "search" },
    h("div.row", h("div.grow", field("s-q", "Query", q)), field("s-type", "Type", type), field("s-k", "Top k", topK)),
    h("div.row",
      h("div", h("label", { for: "s-w" }, "Vector weight (hybrid) ", useWeight, h("span.muted", " override")), weight, " ", weightOut),
      field("s-tags", "Tags (any of)", tags), field("s-collection", "Collection", collection), field("s-doctype", "Document type", docType),
      h("button", { type: "submit" }, "Search")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { q: q.value, search_type: type.value, top_k: Number(topK.value) || 10 };
    if (useWeight.checked) body.vector_weight = Number(weight.value);
    const t = tags.value.split(",").map((x) => x.trim()).filter(Boolean);
    if (t.length) body.tags = t;
    if (collection.value.trim()) body.collection = collection.value.trim();
    if (docType.value.trim()) body.document_type = docType.value.trim();
    clear(results, h("p.muted", "Searching…"));
    const started = performance.now();
    try {
      const data = await api("POST", "/v1/retrieve", body);
      render(results, data, performance.now() - started);
    } catch (err) {
      clear(results, h("p.error", { role: "alert" }, err.message));
    }
  });
  clear(view, h("h1", "Search playground"), form, h("div.card", results));
  q.focus();
}

function render(el, data, roundTrip) {
  const head = h("p#search-summary", `${data.total_results} result${data.total_results === 1 ? "" : "s"} · ${data.search_type} · `,
    h("strong", `${data.processing_time_ms.toFixed(1)} ms`), " on the server, ", `${roundTrip.toFixed(0)} ms round trip`);
  const rows = data.results.map((r, i) => h("tr",
    h("td", String(i + 1)),
    h("td", h("a", { href: `#/doc/${encodeURIComponent(r.document_id)}?chunk=${encodeURIComponent(r.chunk_id)}${r.page ? `&page=${r.page}` : ""}` }, r.title),
      h("div.muted", `${r.filename}${r.page ? ` · page ${r.page}` : ""}${r.expanded_from ? " · via reference" : ""}`), h("div", r.snippet)),
    h("td", fmtScore(r.vector_score)), h("td", fmtScore(r.keyword_score)), h("td", h("strong", fmtScore(r.score)))));
  clear(el, head, h("div.table-wrap", h("table.metrics",
    h("thead", h("tr", ["#", "Passage", "Vector", "Keyword", "Score"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", rows))));
}
