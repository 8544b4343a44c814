// The library: drag-and-drop upload of many files (big ones through the resumable flow), each
// upload's progress and then its status live until completed or failed (with the reason in words),
// the documents' list with filters and pages, retry and delete.

import { api, qs, sendWithProgress } from "./api.js";
import { clear, fmtBytes, fmtDate, h, reasonText, toast } from "./dom.js";
import { sha256OfBlob } from "./sha256.js";

const state = { page: 1, limit: 20, filters: { name: "", status: "any", file_type: "", tags: "", collection: "" } };
const uploads = []; // {file, row, progress, label, fileId, status}
let timer = null;
let limits = null;
let root = null;

const FINISHED = new Set(["completed", "failed", "stored"]);
const TYPES = ["", "pdf", "docx", "rtf", "md", "txt", "html", "csv", "jsonl", "png", "jpeg", "tiff", "webp"];
const STATUSES = ["any", "pending", "processing", "completed", "failed", "stored"];

export function hide() {
  clearTimeout(timer);
  timer = null;
  root = null;
}

export async function show(view, route) {
  hide();
  root = view;
  if (route.params.get("status")) state.filters.status = route.params.get("status");
  const list = h("div.table-wrap#files");
  const pager = h("div.pager#pager");
  clear(view,
    h("h1", "Library"),
    uploadCard(),
    filterCard(),
    h("div.card", list, pager),
  );
  await refresh();
}

// -- upload --------------------------------------------------------------------------------------
function uploadCard() {
  const input = h("input#file-input", { type: "file", multiple: true, "aria-label": "Choose files to upload" });
  const folder = h("input#folder-input", { type: "file", multiple: true, webkitdirectory: true, "aria-label": "Choose a folder to upload" });
  input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
  folder.addEventListener("change", () => { enqueue([...folder.files]); folder.value = ""; });
  const tags = h("input#upload-tags", { type: "text", placeholder: "tags, comma-separated (optional)", "aria-label": "Tags for the uploads" });
  const collection = h("input#upload-collection", { type: "text", placeholder: "collection (default)", "aria-label": "Collection for the uploads" });
  const zone = h("div.drop#drop", { tabindex: "0", role: "button", "aria-label": "Drop files or folders here, or press Enter to choose files" },
    h("p", h("strong", "Drop files or folders here"), " or ", h("label.inline", { for: "file-input" }, "choose files"), "."),
    h("div.row", input, h("span.muted", "Folder:"), folder),
  );
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    enqueue(await droppedFiles(e.dataTransfer));
  });
  const list = h("ul.uploads#upload-list");
  for (const u of uploads) list.append(u.row);
  return h("div.card", h("h2", "Upload"), zone, h("div.row", h("div.grow", tags), h("div.grow", collection)), list);
}

/** Files of a drop, folders walked recursively (their relative path kept as the filename). */
async function droppedFiles(transfer) {
  const entries = [...transfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...transfer.files];
  const files = [];
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((ok, bad) => entry.file(ok, bad));
      files.push(prefix ? new File([file], prefix + file.name, { type: file.type }) : file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return files;
}

function enqueue(files) {
  const tags = document.getElementById("upload-tags")?.value || "";
  const collection = document.getElementById("upload-collection")?.value.trim() || "default";
  for (const file of files) {
    const name = file.webkitRelativePath || file.name;
    const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload of ${name}` });
    const label = h("span.upload-status", "waiting");
    const row = h("li.upload", { dataset: { name } }, h("strong", name), " ", h("span.muted", fmtBytes(file.size)), " ", progress, " ", label);
    document.getElementById("upload-list")?.prepend(row);
    uploads.push({ file, name, tags, collection, row, progress, label, fileId: null, status: "waiting" });
  }
  pump();
}

let running = 0;
function pump() {
  while (running < 2) {
    const next = uploads.find((u) => u.status === "waiting");
    if (!next) return;
    next.status = "uploading";
    running++;
    uploadOne(next).finally(() => { running--; pump(); });
  }
}

async function uploadLimits() {
  if (!limits) {
    const health = await api("GET", "/healthz");
    limits = health.limits || { max_upload_bytes: 100 << 20 };
  }
  return limits;
}

async function uploadOne(u) {
  const setProgress = (done, total) => { u.progress.value = total ? Math.round((100 * done) / total) : 100; };
  try {
    const { max_upload_bytes } = await uploadLimits();
    u.label.textContent = "uploading";
    let result;
    if (u.file.size > max_upload_bytes) result = await resumable(u, setProgress);
    else {
      const form = new FormData();
      form.append("file", u.file, u.name);
      if (u.tags.trim()) form.append("tags", u.tags);
      form.append("collection", u.collection);
      result = await sendWithProgress("POST", "/v1/files/upload", form, setProgress);
    }
    setProgress(1, 1);
    u.fileId = result.file_id;
    u.row.dataset.fileId = result.file_id;
    setStatus(u, result.status, null);
    follow(u); // the upload slot is free for the next file while this one is processed
  } catch (err) {
    u.status = "failed";
    u.label.textContent = `upload failed: ${err.message}`;
    u.label.className = "upload-status error";
  }
}

/** Parts of at most the streaming cap, each PUT with progress; then the SHA-256 check. */
async function resumable(u, setProgress) {
  const started = await api("POST", "/v1/files/uploads", {
    filename: u.name, size: u.file.size, collection: u.collection,
    tags: u.tags.split(",").map((t) => t.trim()).filter(Boolean),
  });
  const partSize = Math.min(started.part_size_limit, 32 << 20);
  const total = u.file.size;
  let sent = 0;
  for (let part = 1, at = 0; at < total; part++, at += partSize) {
    const blob = u.file.slice(at, at + partSize);
    await sendWithProgress("PUT", `/v1/files/uploads/${started.upload_id}/parts/${part}`, blob,
      (done) => setProgress(sent + done, total));
    sent += blob.size;
  }
  u.label.textContent = "checking";
  const sha256 = await sha256OfBlob(u.file);
  return api("POST", `/v1/files/uploads/${started.upload_id}/complete`, { sha256 });
}

function setStatus(u, status, reason, detail) {
  u.status = status;
  u.row.dataset.status = status;
  u.label.className = `upload-status badge status-${status}`;
  u.label.textContent = status === "failed" || (status === "stored" && reason) ? `${status}: ${reasonText(reason, detail)}` : status;
}

/** Every upload not yet finished, its status asked in turn, one request a second in all (a drop of a
 * hundred files must not spend the key's listing budget), each asked at least once (a file stored as
 * it is has its reason there). */
let watching = false;
async function follow(u) {
  u.checked = 0;
  u.row.dataset.followed = "false";
  if (watching) return;
  watching = true;
  try {
    for (;;) {
      const open = uploads.filter((x) => x.fileId && (x.row.dataset.followed === "false" || !FINISHED.has(x.status)));
      if (!open.length) break;
      const next = open.reduce((a, b) => (a.checked <= b.checked ? a : b));
      next.checked = Date.now();
      try {
        const s = await api("GET", `/v1/files/${encodeURIComponent(next.fileId)}/status`);
        setStatus(next, s.status, s.failure_reason, s.failure_detail);
        next.row.dataset.followed = "true";
        if (FINISHED.has(s.status) && root) scheduleRefresh(0);
      } catch (err) {
        if (err.status === 404) { setStatus(next, "failed", "deleted"); next.row.dataset.followed = "true"; }
      }
      await new Promise((r) => setTimeout(r, open.length > 1 ? 1000 : 500));
    }
  } finally {
    watching = false;
  }
}

// -- listing -------------------------------------------------------------------------------------
function filterCard() {
  const f = state.filters;
  const field = (id, label, control) => h("div", h("label", { for: id }, label), control);
  const name = h("input#f-name", { type: "search", value: f.name, placeholder: "part of the name" });
  const status = h("select#f-status", STATUSES.map((s) => h("option", { value: s, selected: s === f.status }, s)));
  const type = h("select#f-type", TYPES.map((t) => h("option", { value: t, selected: t === f.file_type }, t || "any")));
  const tags = h("input#f-tags", { type: "text", value: f.tags, placeholder: "a,b" });
  const collection = h("input#f-collection", { type: "text", value: f.collection, placeholder: "any" });
  const form = h("form.row", { role: "search", "aria-label": "Filter documents" },
    h("div.grow", field("f-name", "Name", name)), field("f-status", "Status", status), field("f-type", "Type", type),
    field("f-tags", "Tags", tags), field("f-collection", "Collection", collection), h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state.filters, { name: name.value, status: status.value, file_type: type.value, tags: tags.value, collection: collection.value });
    state.page = 1;
    refresh();
  });
  for (const control of [status, type]) control.addEventListener("change", () => form.requestSubmit());
  return h("div.card", form);
}

function scheduleRefresh(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => { if (root) refresh(); }, ms);
}

async function refresh() {
  const listEl = document.getElementById("files");
  if (!listEl) return;
  const f = state.filters;
  let data;
  try {
    data = await api("GET", `/v1/files${qs({ page: state.page, limit: state.limit, name: f.name, status: f.status,
      file_type: f.file_type, tags: f.tags, collection: f.collection })}`);
  } catch (err) {
    clear(listEl, h("p.error", { role: "alert" }, `Could not list the documents: ${err.message}`));
    scheduleRefresh(5000);
    return;
  }
  renderTable(listEl, data.files);
  renderPager(data.total_count);
  const busy = data.files.some((d) => !FINISHED.has(d.status)) || uploads.some((u) => !FINISHED.has(u.status) && u.status !== "failed");
  if (busy) scheduleRefresh(3000);
}

function renderTable(el, files) {
  if (!files.length) { clear(el, h("p.muted", "No documents here yet: drop some files above.")); return; }
  const rows = files.map((d) => {
    const reason = d.failure_reason ? h("div.muted.reason", reasonText(d.failure_reason)) : null;
    const actions = h("div.row");
    if (d.status === "failed") actions.append(h("button.secondary", { type: "button", on: { click: () => retry(d) } }, "Retry"));
    actions.append(h("button.danger", { type: "button", "aria-label": `Delete ${d.filename}`, on: { click: () => remove(d) } }, "Delete"));
    return h("tr", { dataset: { fileId: d.file_id, status: d.status } },
      h("td", h("a", { href: `#/doc/${encodeURIComponent(d.file_id)}` }, d.title || d.filename),
        d.title && d.title !== d.filename ? h("div.muted", d.filename) : null),
      h("td", d.file_type || ""),
      h("td", h(`span.badge.status-${d.status}`, d.status), reason),
      h("td.hide-narrow", d.page_count ?? ""),
      h("td.hide-narrow", d.chunk_count ?? ""),
      h("td.hide-narrow", d.tags.join(", ")),
      h("td.hide-narrow", d.collection),
      h("td.hide-narrow", fmtDate(d.created_at)),
      h("td", actions));
  });
  clear(el, h("table#file-table",
    h("thead", h("tr", ["Document", "Type", "Status", "Pages", "Chunks", "Tags", "Collection", "Added", ""].map((t, i) =>
      h(i >= 3 && i <= 7 ? "th.hide-narrow" : "th", { scope: "col" }, t)))),
    h("tbody", rows)));
}

function renderPager(total) {
  const el = document.getElementById("pager");
  const pages = Math.max(1, Math.ceil(total / state.limit));
  const go = (p) => { state.page = p; refresh(); };
  clear(el,
    h("button.secondary", { type: "button", disabled: state.page <= 1, on: { click: () => go(state.page - 1) } }, "Previous"),
    h("span", `Page ${state.page} of ${pages} · ${total} document${total === 1 ? "" : "s"}`),
    h("button.secondary", { type: "button", disabled: state.page >= pages, on: { click: () => go(state.page + 1) } }, "Next"));
}

/** A failed file again: back to stored (its partial index removed), then indexed afresh. */
async function retry(d) {
  try {
    await api("DELETE", `/v1/files/${encodeURIComponent(d.file_id)}/index`);
    await api("POST", `/v1/files/${encodeURIComponent(d.file_id)}/index`);
    toast(`Retrying ${d.filename}`);
  } catch (err) {
    toast(`Retry failed: ${err.message}`, "error");
  }
  refresh();
}

async function remove(d) {
  if (!confirm(`Delete ${d.filename}? Its text, chunks and original are removed.`)) return;
  try {
    await api("DELETE", `/v1/files/${encodeURIComponent(d.file_id)}`);
    toast(`Deleted ${d.filename}`);
  } catch (err) {
    toast(`Delete failed: ${err.message}`, "error");
  }
  refresh();
}
