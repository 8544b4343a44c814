// Small DOM helpers. Text from documents and models only ever goes in as textContent, or as
// markdown through marked + DOMPurify (md()); nothing is assigned to innerHTML unsanitised.

/** h("div.card#id", {attrs, on: {click}}, ...children) -> Element */
export function h(spec, attrs = {}, ...children) {
  const [tagAndClasses, id] = spec.split("#");
  const [tag, ...classes] = tagAndClasses.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (id) el.id = id;
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function toast(message, kind = "") {
  const box = document.getElementById("toast");
  const item = h(`div.${kind || "info"}`, { text: message });
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

export function fmtBytes(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

export function fmtScore(x) { return x == null ? "–" : Number(x).toFixed(3); }

const REASONS = {
  empty_file: "the file is empty",
  encrypted: "the file is encrypted (password-protected)",
  extraction_error: "its text could not be extracted",
  extractor_crashed: "the extractor crashed on this file",
  invalid_pdf: "this is not a valid PDF",
  malformed_pdf: "the PDF is damaged",
  malformed_docx: "the Word file is damaged",
  malformed_image: "the image is damaged or unreadable",
  no_extractable_text: "no text could be found in it, not even by OCR",
  timeout: "extraction took too long and was stopped",
  too_large: "the file is too large to process",
  too_large_for_extraction: "extracting it needed more memory than allowed",
  unsupported_media_type: "Lectern cannot index this type of file (kept for download)",
  not_indexable: "Lectern cannot index this type of file (kept for download)",
  indexing_error: "indexing failed (embedding or storage error)",
  deleted: "the file was deleted meanwhile",
};

/** A failure reason code in words (the code kept in brackets for support). */
export function reasonText(reason, detail) {
  if (!reason) return "";
  const words = REASONS[reason] || reason.replace(/_/g, " ");
  return detail ? `${words} (${reason}: ${detail})` : `${words} (${reason})`;
}

let mdLib = null;
async function loadMarkdown() {
  if (mdLib) return mdLib;
  try {
    const [{ Marked }, purify] = await Promise.all([
      import("/static/vendor/marked.esm.js"),
      import("/static/vendor/purify.es.mjs"),
    ]);
    // Raw HTML in a model's answer or a document is shown as the text it is, never as markup.
    const escapeHtml = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const marked = new Marked({ gfm: true, breaks: true, renderer: { html: (token) => escapeHtml(token.text ?? token.raw ?? "") } });
    mdLib = { marked, DOMPurify: purify.default };
  } catch {
    mdLib = { marked: null, DOMPurify: null }; // vendor files missing: plain text
  }
  return mdLib;
}
loadMarkdown();

/**
 * Markdown as sanitised DOM: marked renders (raw HTML escaped into text), then DOMPurify removes
 * anything active that got through (scripts, event handlers, javascript: URLs, images that would
 * load from elsewhere). Without the libraries the text is shown as it is.
 */
export async function md(text) {
  const { marked, DOMPurify } = await loadMarkdown();
  const box = document.createElement("div");
  if (!marked || !DOMPurify) { box.textContent = text; box.className = "plain"; return box; }
  const html = marked.parse(text, { async: false });
  const clean = DOMPurify.sanitize(html, {
    FORBID_TAGS: ["img", "style", "form", "input", "iframe", "video", "audio", "svg", "math"],
    FORBID_ATTR: ["style"],
    RETURN_DOM_FRAGMENT: true,
  });
  box.append(clean);
  for (const a of box.querySelectorAll("a")) { a.rel = "noopener noreferrer"; a.target = "_blank"; }
  return box;
}

/** Replace "[n]" in text nodes (outside code) with links made by makeLink(n). */
export function linkMarkers(root, makeLink) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) {
    const n = walker.currentNode;
    if (!n.parentElement.closest("code, pre") && /\[\d+\]/.test(n.nodeValue)) nodes.push(n);
  }
  for (const node of nodes) {
    const parts = node.nodeValue.split(/(\[\d+\])/);
    const frag = document.createDocumentFragment();
    for (const part of parts) {
      const m = /^\[(\d+)\]$/.exec(part);
      const link = m ? makeLink(Number(m[1])) : null;
      frag.append(link || document.createTextNode(part));
    }
    node.replaceWith(frag);
  }
}
