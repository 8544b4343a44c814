// The page's shell: sign-in, the section links, and a hash router (#/library, #/doc/<id>,
// #/chat/<session>, #/search, #/evals, #/admin). Each section is one module with show(view, route).

import { api, clearKey, getKey, setKey } from "./api.js";
import { clear, h } from "./dom.js";
import * as library from "./library.js";
import * as documentView from "./document.js";
import * as chat from "./chat.js";
import * as search from "./search.js";
import * as evals from "./evals.js";
import * as admin from "./admin.js";

const SECTIONS = { library, doc: documentView, chat, search, evals, admin };
export const me = { user_id: null, role: null, is_admin: false };
let current = null;

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "") || "library";
  const [path, query = ""] = raw.split("?");
  const [section, ...rest] = path.split("/");
  return { section, args: rest.map(decodeURIComponent), params: new URLSearchParams(query) };
}

async function signIn(key) {
  setKey(key);
  try {
    Object.assign(me, await api("GET", "/v1/keys/me"));
  } catch (err) {
    clearKey();
    throw err;
  }
}

function showSignedIn(yes) {
  document.getElementById("signin").hidden = yes;
  document.getElementById("view").hidden = !yes;
  document.getElementById("nav").hidden = !yes;
  document.getElementById("signout").hidden = !yes;
  document.getElementById("whoami").textContent = yes ? `${me.user_id} (${me.role})` : "";
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !(yes && me.is_admin);
}

let routeSeq = 0;

async function route() {
  if (!getKey() || !me.role) return;
  const r = parseRoute();
  const module = SECTIONS[r.section] || library;
  for (const a of document.querySelectorAll("nav a")) {
    const on = a.dataset.section === r.section || (r.section === "doc" && a.dataset.section === "library");
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (current?.hide) current.hide();
  current = module;
  // Each screen renders into its own container: a slower earlier screen still loading writes into
  // a detached one instead of over the screen the user moved to.
  const seq = ++routeSeq;
  const view = document.getElementById("view");
  const container = h("div", { dataset: { section: r.section } });
  clear(view, container);
  try {
    await module.show(container, r);
  } catch (err) {
    if (seq === routeSeq) clear(container, h("p.error", { role: "alert", text: `Could not load this screen: ${err.message}` }));
  }
}

document.getElementById("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = document.getElementById("key");
  const error = document.getElementById("signin-error");
  error.textContent = "";
  try {
    await signIn(input.value.trim());
    input.value = "";
    showSignedIn(true);
    if (!location.hash || location.hash === "#") location.hash = "#/library"; // routes on hashchange
    else await route();
  } catch (err) {
    error.textContent = err.status === 401 ? "That key is not valid." : `Sign-in failed: ${err.message}`;
  }
});

document.getElementById("signout").addEventListener("click", () => {
  clearKey();
  if (current?.hide) current.hide();
  Object.assign(me, { user_id: null, role: null, is_admin: false });
  showSignedIn(false);
  clear(document.getElementById("view"));
});

window.addEventListener("lectern:unauthorized", () => {
  clearKey();
  showSignedIn(false);
  document.getElementById("signin-error").textContent = "Your key was refused; sign in again.";
});
window.addEventListener("hashchange", route);

(async () => {
  const key = getKey();
  if (key) {
    try { await signIn(key); showSignedIn(true); await route(); return; } catch { /* fall through */ }
  }
  showSignedIn(false);
  document.getElementById("key").focus();
})();
