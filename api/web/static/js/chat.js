// Chat: sessions (new, rename, delete, continue), the answer streamed token by token over SSE
// (fetch, so the key goes in a header and Stop aborts it: the server keeps the partial answer),
// the agent's searches as they run, [n] markers as links to the cited passage, and the sources
// panel with cited passages first and the other retrieved ones apart.

import { api, streamEvents } from "./api.js";
import { clear, fmtDate, fmtScore, h, linkMarkers, md, toast } from "./dom.js";

let controller = null;
let els = null;

export function hide() {
  // Leaving the screen does not stop a running answer: it finishes on the server and shows in history.
  els = null;
}

export async function show(view, route) {
  const sessionId = route.args[0] || null;
  els = {
    sessions: h("div.sessions.card"),
    messages: h("div.messages#messages", { role: "log", "aria-live": "polite", "aria-label": "Conversation" }),
    sources: h("div.sources.card#sources", { "aria-label": "Sources" }, h("p.muted", "Sources of the latest answer show here.")),
    sessionId,
  };
  const question = h("textarea#question", { placeholder: "Ask about your documents… (Enter sends, Shift+Enter for a new line)", "aria-label": "Question", rows: 2 });
  const send = h("button#send", { type: "submit" }, "Send");
  const stop = h("button.danger#stop", { type: "button", hidden: true, on: { click: () => controller?.abort() } }, "Stop");
  const filters = filterBox();
  const form = h("form.composer", question, send, stop);
  form.addEventListener("submit", (e) => { e.preventDefault(); ask(question, send, stop, filters); });
  question.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  clear(view, h("div.chat",
    els.sessions,
    h("div.card", h("h1", "Chat"), els.messages, form, filters.el),
    els.sources));
  await Promise.all([renderSessions(), sessionId ? loadHistory(sessionId) : Promise.resolve(), filters.load()]);
  question.focus();
}

// -- sessions ------------------------------------------------------------------------------------
async function renderSessions() {
  if (!els) return;
  const sessions = await api("GET", "/v1/chat/sessions");
  const list = h("ul#session-list", sessions.map((s) => h("li", { dataset: { sessionId: s.id } },
    h("a", { href: `#/chat/${encodeURIComponent(s.id)}`, "aria-current": s.id === els.sessionId ? "true" : "false", title: fmtDate(s.updated_at) },
      s.title || "New chat"),
    h("button.icon", { type: "button", "aria-label": `Rename ${s.title || "chat"}`, on: { click: () => rename(s) } }, "Rename"),
    h("button.icon", { type: "button", "aria-label": `Delete ${s.title || "chat"}`, on: { click: () => removeSession(s) } }, "Delete"))));
  clear(els.sessions, h("h2", "Chats"),
    h("button#new-chat", { type: "button", on: { click: () => { location.hash = "#/chat"; } } }, "New chat"),
    sessions.length ? list : h("p.muted", "No chats yet."));
}

async function rename(s) {
  const title = prompt("New name for this chat", s.title || "");
  if (!title || !title.trim()) return;
  try { await api("PATCH", `/v1/chat/sessions/${encodeURIComponent(s.id)}`, { title }); } catch (err) { toast(err.message, "error"); }
  renderSessions();
}

async function removeSession(s) {
  if (!confirm(`Delete the chat "${s.title || "New chat"}"?`)) return;
  try { await api("DELETE", `/v1/chat/sessions/${encodeURIComponent(s.id)}`); } catch (err) { toast(err.message, "error"); }
  if (s.id === els?.sessionId) location.hash = "#/chat"; else renderSessions();
}

async function loadHistory(sessionId) {
  const data = await api("GET", `/v1/chat/sessions/${encodeURIComponent(sessionId)}`);
  let retrieved = [];
  let last = null;
  for (const m of data.messages) {
    if (m.role === "user") { els.messages.append(h("div.msg.user", m.content)); retrieved = []; }
    if (m.role === "tool") retrieved.push(...(m.tool_results || []));
    if (m.role === "assistant" && !m.tool_calls?.length) {
      const msg = assistantBox();
      msg.el.dataset.state = m.status === "partial" ? "stopped" : "done";
      await renderAnswer(msg, m.content, m.citations);
      els.messages.append(msg.el);
      last = { citations: m.citations, retrieved: [...retrieved] };
    }
  }
  if (last) renderSources(last.citations, last.retrieved);
  els.messages.scrollTop = els.messages.scrollHeight;
}

// -- a turn --------------------------------------------------------------------------------------
function assistantBox() {
  const activity = h("ul.activity");
  const answer = h("div.answer");
  const el = h("div.msg.assistant", activity, answer);
  return { el, activity, answer };
}

function citeLink(c) {
  const params = new URLSearchParams({ chunk: c.chunk_id });
  if (c.page) params.set("page", c.page);
  return h("a.cite", { href: `#/doc/${encodeURIComponent(c.document_id)}?${params}`, dataset: { n: c.n, chunkId: c.chunk_id },
    title: `${c.title}${c.page ? `, page ${c.page}` : ""}: ${c.snippet}` }, `[${c.n}]`);
}

async function renderAnswer(msg, text, citations) {
  const byN = new Map((citations || []).map((c) => [c.n, c]));
  const box = await md(text || "");
  linkMarkers(box, (n) => (byN.has(n) ? citeLink(byN.get(n)) : null));
  clear(msg.answer, ...box.childNodes);
}

async function ask(question, send, stop, filters) {
  const content = question.value.trim();
  if (!content || controller) return;
  if (!els.sessionId) {
    const created = await api("POST", "/v1/chat/sessions", {});
    els.sessionId = created.session_id;
    history.replaceState(null, "", `#/chat/${encodeURIComponent(created.session_id)}`);
  }
  question.value = "";
  els.messages.append(h("div.msg.user", content));
  const msg = assistantBox();
  msg.el.dataset.state = "streaming";
  els.messages.append(msg.el);
  const live = h("div.streaming.plain");
  msg.answer.append(live);
  let text = "";
  let tokens = 0;
  const citations = [];
  const retrieved = [];
  const calls = new Map();
  controller = new AbortController();
  send.disabled = true;
  stop.hidden = false;
  const scroll = () => { els && (els.messages.scrollTop = els.messages.scrollHeight); };
  try {
    await streamEvents(`/v1/chat/sessions/${encodeURIComponent(els.sessionId)}/messages`, { content, ...filters.value() },
      (type, data) => {
        if (type === "tool_call") {
          const q = data.arguments?.query ?? data.arguments?.q ?? JSON.stringify(data.arguments);
          const item = h("li.tool-call", `Searching: “${q}”…`);
          calls.set(data.id, item);
          msg.activity.append(item);
        } else if (type === "tool_result") {
          retrieved.push(...(data.results || []));
          const item = calls.get(data.id) || msg.activity.appendChild(h("li.tool-call"));
          const q = item.textContent.replace(/…$/, "");
          item.textContent = data.error ? `${q}: failed (${data.error})` : `${q}: ${data.results.length} passage${data.results.length === 1 ? "" : "s"}`;
          renderSources(citations, retrieved);
        } else if (type === "token") {
          text += data.text;
          tokens += 1;
          live.textContent = text;
          msg.el.dataset.tokens = String(tokens);
          scroll();
        } else if (type === "citation") {
          citations.push(data);
          renderSources(citations, retrieved);
        } else if (type === "done") {
          text = data.answer;
          citations.splice(0, citations.length, ...data.citations);
          msg.el.dataset.state = "done";
        } else if (type === "error") {
          msg.el.dataset.state = "error";
          msg.answer.append(h("p.error", { role: "alert" }, `${data.message} (${data.error_code})`));
        }
      }, controller.signal);
  } catch (err) {
    if (err.name === "AbortError") {
      msg.el.dataset.state = "stopped";
    } else {
      msg.el.dataset.state = "error";
      msg.answer.append(h("p.error", { role: "alert" }, `The answer failed: ${err.message}`));
    }
  } finally {
    controller = null;
    send.disabled = false;
    stop.hidden = true;
  }
  if (msg.el.dataset.state === "streaming") msg.el.dataset.state = "done";
  live.remove();
  const errorNote = msg.answer.querySelector(".error");
  await renderAnswer(msg, text, citations);
  if (msg.el.dataset.state === "stopped") msg.answer.append(h("p.muted", "Stopped: the partial answer is kept."));
  if (errorNote) msg.answer.append(errorNote);
  renderSources(citations, retrieved);
  scroll();
  renderSessions();
}

// -- sources -------------------------------------------------------------------------------------
function sourceCard(s, cited) {
  const params = new URLSearchParams({ chunk: s.chunk_id });
  if (s.page) params.set("page", s.page);
  return h(`div.source${cited ? ".cited" : ""}`, { dataset: { chunkId: s.chunk_id } },
    h("div", cited ? h("strong", `[${s.n}] `) : null,
      h("a", { href: `#/doc/${encodeURIComponent(s.document_id)}?${params}` }, s.title || s.filename || s.document_id)),
    h("div.meta", [s.page ? `page ${s.page}` : null, s.score != null ? `score ${fmtScore(s.score)}` : null].filter(Boolean).join(" · ")),
    h("div", s.snippet || ""));
}

function renderSources(citations, retrieved) {
  if (!els) return;
  const scores = new Map(retrieved.map((r) => [r.chunk_id, r.score]));
  const cited = new Set(citations.map((c) => c.chunk_id));
  const seen = new Set();
  const others = retrieved.filter((r) => !cited.has(r.chunk_id) && !seen.has(r.chunk_id) && seen.add(r.chunk_id));
  clear(els.sources,
    h("h2", "Sources"),
    h("h3", `Cited (${citations.length})`),
    h("div#cited", citations.length ? citations.map((c) => sourceCard({ ...c, score: scores.get(c.chunk_id) }, true)) : h("p.muted", "None yet.")),
    h("h3", `Also retrieved, not cited (${others.length})`),
    h("div#retrieved", others.map((r) => sourceCard(r, false))));
}

// -- filters for the turn ------------------------------------------------------------------------
function filterBox() {
  const collection = h("input#chat-collection", { type: "text", placeholder: "any" });
  const tags = h("input#chat-tags", { type: "text", placeholder: "a,b" });
  const docs = h("select#chat-docs", { multiple: true, size: 4, "aria-label": "Only these documents" });
  const el = h("details.filters", h("summary", "Filters for the next question"),
    h("div.row",
      h("div", h("label", { for: "chat-collection" }, "Collection"), collection),
      h("div", h("label", { for: "chat-tags" }, "Tags (any of)"), tags),
      h("div.grow", h("label", { for: "chat-docs" }, "Only these documents"), docs)));
  return {
    el,
    async load() {
      const data = await api("GET", "/v1/files?limit=100&status=completed");
      clear(docs, data.files.map((d) => h("option", { value: d.file_id }, d.title || d.filename)));
    },
    value() {
      const v = {};
      if (collection.value.trim()) v.collection = collection.value.trim();
      const t = tags.value.split(",").map((x) => x.trim()).filter(Boolean);
      if (t.length) v.tags = t;
      const ids = [...docs.selectedOptions].map((o) => o.value);
      if (ids.length) v.document_ids = ids;
      return v;
    },
  };
}
