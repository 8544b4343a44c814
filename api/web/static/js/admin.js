// The admin area: API keys (list, create; the secret is shown once) and a document's assignments.

import { api } from "./api.js";
import { clear, fmtDate, h, toast } from "./dom.js";

export async function show(view) {
  const keys = h("div#keys");
  const name = h("input#k-name", { type: "text", required: true, placeholder: "alice" });
  const role = h("select#k-role", ["user", "readonly", "admin"].map((r) => h("option", { value: r }, r)));
  const created = h("div#k-created", { "aria-live": "polite" });
  const form = h("form.row",
    h("div.grow", h("label", { for: "k-name" }, "Name (also the user id)"), name),
    h("div", h("label", { for: "k-role" }, "Role"), role), h("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await api("POST", "/v1/keys", { name: name.value, role: role.value });
      name.value = "";
      await listKeys(keys);
      clear(created, h("p", "New key for ", h("strong", made.key.name), " (shown once, copy it now):"), h("p.secret", made.secret));
    } catch (err) { toast(err.message, "error"); }
  });

  const docId = h("input#a-doc", { type: "text", required: true, placeholder: "file id" });
  const user = h("input#a-user", { type: "text", required: true, placeholder: "user id" });
  const assigned = h("div#assignees");
  const assignForm = h("form.row",
    h("div.grow", h("label", { for: "a-doc" }, "Document (file id)"), docId),
    h("div.grow", h("label", { for: "a-user" }, "User"), user),
    h("button", { type: "submit" }, "Assign"),
    h("button.secondary", { type: "button", on: { click: () => listAssignees(docId.value, assigned) } }, "Show assignees"));
  assignForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", `/v1/files/${encodeURIComponent(docId.value.trim())}/assignments`, { user_id: user.value.trim() });
      toast(`Assigned to ${user.value}`);
      await listAssignees(docId.value, assigned);
    } catch (err) { toast(err.message, "error"); }
  });

  clear(view, h("h1", "Admin"),
    h("div.card", h("h2", "API keys"), form, created, keys),
    h("div.card", h("h2", "Assignments"), h("p.muted", "A user sees what it owns and what is assigned to it."), assignForm, assigned));
  await listKeys(keys);
}

async function listKeys(el) {
  const keys = await api("GET", "/v1/keys");
  clear(el, h("div.table-wrap", h("table#key-table",
    h("thead", h("tr", ["Name", "User", "Role", "Prefix", "Created", "Revoked"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", keys.map((k) => h("tr", h("td", k.name), h("td", k.user_id), h("td", k.role), h("td", h("code", `${k.prefix}…`)),
      h("td", fmtDate(k.created_at)), h("td", k.revoked_at ? fmtDate(k.revoked_at) : "")))))));
}

async function listAssignees(id, el) {
  if (!id.trim()) return;
  try {
    const data = await api("GET", `/v1/files/${encodeURIComponent(id.trim())}/assignments`);
    clear(el, data.assignees.length ? h("ul", data.assignees.map((a) => h("li", a.user_id,
      h("button.icon", { type: "button", "aria-label": `Unassign ${a.user_id}`, on: { click: async () => {
        await api("DELETE", `/v1/files/${encodeURIComponent(id.trim())}/assignments/${encodeURIComponent(a.user_id)}`);
        listAssignees(id, el);
      } } }, "✕")))) : h("p.muted", "Assigned to nobody."));
  } catch (err) { clear(el, h("p.error", err.message)); }
}
