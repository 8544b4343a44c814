// One document: its pages (a PDF's page or an image's frame, as a picture with the extracted
// elements drawn over it; other formats their elements), text, chunks, tags and metadata, and a
// download. Opened from a citation (#/doc/<id>?chunk=<chunk_id>) it lands on the chunk: the page with
// its region highlighted for a PDF or an image (a scan, a photo), the chunk scrolled to and marked
// for other formats.

import { api, apiBlob } from "./api.js";
import { clear, fmtBytes, fmtDate, h, reasonText, toast } from "./dom.js";

const DPI = 110;
// The types whose pages the server draws (GET …/pages/{n}/image): OCR'd images as well as PDFs.
const PICTURED = new Set(["pdf", "png", "jpeg", "tiff", "webp"]);
let urls = [];

export function hide() {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
}

export async function show(view, route) {
  hide();
  const id = route.args[0];
  const chunkId = route.params.get("chunk");
  const doc = await api("GET", `/v1/files/${encodeURIComponent(id)}`);
  const target = chunkId ? await api("GET", `/v1/files/${encodeURIComponent(id)}/chunks/${encodeURIComponent(chunkId)}`).catch(() => null) : null;
  const pictured = PICTURED.has(doc.file_type);
  const wantedPage = Number(route.params.get("page")) || target?.regions?.[0]?.page || target?.page || 1;

  const panel = h("div#doc-panel");
  const tabs = ["pages", "text", "chunks", "details"];
  const tabBar = h("div.tabs", { role: "tablist", "aria-label": "Document views" });
  const select = async (name) => {
    for (const b of tabBar.children) b.setAttribute("aria-selected", String(b.dataset.tab === name));
    clear(panel, h("p.muted", "Loading…"));
    try {
      if (name === "pages") await renderPages(panel, doc, pictured, wantedPage, target);
      if (name === "text") await renderText(panel, doc);
      if (name === "chunks") await renderChunks(panel, doc, target);
      if (name === "details") renderDetails(panel, doc);
    } catch (err) {
      clear(panel, h("p.error", { role: "alert" }, `Could not load: ${err.message}`));
    }
  };
  for (const t of tabs) {
    tabBar.append(h("button", { type: "button", role: "tab", dataset: { tab: t }, on: { click: () => select(t) } }, t[0].toUpperCase() + t.slice(1)));
  }
  const download = h("button.secondary", { type: "button", on: { click: () => downloadFile(doc) } }, "Download");
  const status = h(`span.badge.status-${doc.status}`, doc.status);
  clear(view,
    h("p", h("a", { href: "#/library" }, "← Library")),
    h("h1#doc-title", doc.title),
    h("p.row", status, h("span.muted", `${doc.filename} · ${doc.file_type || doc.media_type || ""} · ${fmtBytes(doc.size_bytes)}`), download),
    doc.failure_reason ? h("p.error", reasonText(doc.failure_reason)) : null,
    tabBar, panel);
  // A cited chunk of a PDF or an image opens on its page; of any other format, on the chunks, scrolled to it.
  await select(target && !pictured ? "chunks" : "pages");
}

async function downloadFile(doc) {
  try {
    const blob = await apiBlob(`/v1/files/${encodeURIComponent(doc.file_id)}/content`);
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: doc.filename.split("/").pop() });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    toast(`Download failed: ${err.message}`, "error");
  }
}

async function renderPages(panel, doc, pictured, wanted, target) {
  const pages = await api("GET", `/v1/files/${encodeURIComponent(doc.file_id)}/pages`);
  if (!pages.length) { clear(panel, h("p.muted", "No pages extracted (yet).")); return; }
  const count = pages.length;
  let current = Math.min(Math.max(1, wanted), count);
  const body = h("div.page-view#page-view");
  const label = h("span#page-label");
  const prev = h("button.secondary", { type: "button", on: { click: () => go(current - 1) } }, "Previous page");
  const next = h("button.secondary", { type: "button", on: { click: () => go(current + 1) } }, "Next page");
  async function go(n) {
    current = Math.min(Math.max(1, n), count);
    prev.disabled = current <= 1;
    next.disabled = current >= count;
    label.textContent = `Page ${current} of ${count}`;
    const page = pages.find((p) => p.page_number === current) || { elements: [] };
    const regions = (target?.regions || []).filter((r) => r.page === current);
    if (pictured) await drawPageImage(body, doc, page, regions);
    else drawElements(body, page, target);
  }
  clear(panel, h("div.row", prev, label, next), body);
  await go(current);
}

async function drawPageImage(body, doc, page, regions) {
  const blob = await apiBlob(`/v1/files/${encodeURIComponent(doc.file_id)}/pages/${page.page_number}/image?dpi=${DPI}`);
  const url = URL.createObjectURL(blob);
  urls.push(url);
  const img = h("img#page-image", { src: url, alt: `Page ${page.page_number} of ${doc.title}` });
  const frame = h("div.page-frame", { dataset: { page: page.page_number } }, img);
  const place = (box, [x0, y0, x1, y1]) => {
    box.style.left = `${x0 * 100}%`; box.style.top = `${y0 * 100}%`;
    box.style.width = `${(x1 - x0) * 100}%`; box.style.height = `${(y1 - y0) * 100}%`;
    return box;
  };
  for (const e of page.elements) {
    if (!e.bbox) continue;
    frame.append(place(h("div.box", { title: `${e.type}: ${e.text.slice(0, 200)}`, dataset: { type: e.type } }), e.bbox));
  }
  const highlights = regions.map((r) => place(h("div.box.hl", { dataset: { highlight: "true" }, title: "the cited passage" }), r.bbox));
  frame.append(...highlights);
  const side = h("div.grow", h("h2", "Elements"), h("ol", page.elements.map((e) => h("li", h("strong", e.type), " ", e.text.slice(0, 160)))));
  clear(body, frame, side);
  await img.decode().catch(() => {});
  if (highlights.length) highlights[0].scrollIntoView({ block: "center" });
}

function drawElements(body, page, target) {
  const items = page.elements.map((e) => {
    const item = h(`div.chunk`, { dataset: { type: e.type } }, h("strong", e.type), " ", e.text);
    if (target && target.text.includes(e.text.trim().slice(0, 80))) item.classList.add("target");
    return item;
  });
  clear(body, h("div.grow", items));
  body.querySelector(".target")?.scrollIntoView({ block: "center" });
}

async function renderText(panel, doc) {
  const data = await api("GET", `/v1/files/${encodeURIComponent(doc.file_id)}/text`);
  clear(panel, h("pre.text#doc-text", data.text || "(no text)"));
}

async function renderChunks(panel, doc, target) {
  const chunks = await api("GET", `/v1/files/${encodeURIComponent(doc.file_id)}/chunks`);
  const items = chunks.map((c) => h(`div.chunk${target && c.chunk_id === target.chunk_id ? ".target" : ""}`,
    { dataset: { chunkId: c.chunk_id }, id: `chunk-${c.index}` },
    h("div.muted", `#${c.index} · page ${c.page ?? "–"} · ${c.token_count} tokens${c.breadcrumb ? ` · ${c.breadcrumb}` : ""}`),
    c.text));
  clear(panel, chunks.length ? h("div#chunks", items) : h("p.muted", "No chunks (not indexed yet)."));
  panel.querySelector(".target")?.scrollIntoView({ block: "center" });
}

function renderDetails(panel, doc) {
  const rows = [
    ["File id", doc.file_id], ["File name", doc.filename], ["Collection", doc.collection], ["Owner", doc.owner],
    ["Status", doc.status], ["Pages", doc.page_count], ["Chunks", doc.chunk_count], ["Words", doc.word_count],
    ["Tags", doc.tags.join(", ")], ["Document type", doc.document_type], ["Description", doc.description],
    ["Reference", doc.reference], ["Key", doc.key], ["Expires", doc.expires_at], ["Policies", doc.policies.join(", ")],
    ["Added", fmtDate(doc.created_at)], ["Last processed", fmtDate(doc.last_processed)], ["SHA-256", doc.sha256],
  ];
  clear(panel,
    h("table", h("tbody", rows.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td", String(v)))))),
    h("h2", "Metadata"), h("pre", JSON.stringify(doc.metadata, null, 2)),
    doc.notes.length ? h("div", h("h2", "Notes"), h("ul", doc.notes.map((n) => h("li", n)))) : null);
}
