// The saved shortlist: its name, role, method, stars and notes, saved as the recruiter works
// (the /shortlists API), its id in the address (?shortlist=ID) so a reload brings it back.
import { $, api, el, sendJSON, showError, testid } from "./api.js";
import { state } from "./state.js";

let queue = Promise.resolve(); // writes in order: a star is never sent before its list exists
let pending = 0; // writes queued and not yet answered
let failure = null; // why the last write in this run of writes failed
const noteTimers = {};

function setSaveStatus(text, failed = false) {
  $("save-status").textContent = text;
  $("save-status").classList.toggle("failed", failed);
}

function clock() {
  return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Queues a write; says "Saving…" until every queued write is answered, then that they
// were saved, or why one was not.
function save(work) {
  pending += 1;
  setSaveStatus("Saving…");
  queue = queue.then(work).catch((err) => {
    failure = err;
  }).then(() => {
    pending -= 1;
    if (pending > 0) return null;
    if (failure) setSaveStatus(`Not saved: ${failure.message}`, true);
    else setSaveStatus(`Saved “${state.shortlist ? state.shortlist.name : ""}” at ${clock()}.`);
    failure = null;
    return refreshPicker();
  });
  return queue;
}

function setAddress(id) {
  const url = new URL(window.location.href);
  if (id === null) url.searchParams.delete("shortlist");
  else url.searchParams.set("shortlist", String(id));
  window.history.replaceState(null, "", url);
}

function adopt(saved) {
  state.shortlist = { id: saved.id, name: saved.name, query: saved.query, method: saved.method };
  $("shortlist-name").value = saved.name;
  $("shortlist-delete").disabled = false;
  for (const button of document.querySelectorAll("[data-export=shortlist]")) button.disabled = false;
  setAddress(saved.id);
}

function current() {
  return { query: $("query").value.trim() || null, method: $("method").value || null };
}

// [the open shortlist, whether this call created it]: saved now if it is not yet, with
// the stars and notes so far.
async function ensureSaved() {
  if (state.shortlist) return [state.shortlist, false];
  const name = $("shortlist-name").value.trim() || $("query").value.trim() || "Untitled shortlist";
  const stars = state.stars.map((id) => ({ id, note: state.notes[id] || "" }));
  adopt(await api("/shortlists", sendJSON("POST", { name, ...current(), stars })));
  return [state.shortlist, true];
}

function path(...parts) {
  return ["/shortlists", ...parts.map((p) => encodeURIComponent(p))].join("/");
}

export function starChanged(id, starred) {
  return save(async () => {
    const [list, created] = await ensureSaved();
    if (created) return; // saved with its stars
    if (starred) {
      await api(path(list.id, "stars", id), sendJSON("PUT", { note: state.notes[id] || "" }));
    } else {
      await api(path(list.id, "stars", id), { method: "DELETE" });
    }
  });
}

function noteChanged(id, note) {
  state.notes[id] = note;
  clearTimeout(noteTimers[id]);
  noteTimers[id] = setTimeout(() => saveNote(id), 400); // one write per pause in typing
}

function saveNote(id) {
  clearTimeout(noteTimers[id]);
  delete noteTimers[id];
  if (!state.stars.includes(id)) return;
  const note = state.notes[id] || "";
  save(async () => {
    const [list, created] = await ensureSaved();
    if (!created) await api(path(list.id, "stars", id), sendJSON("PUT", { note }));
  });
}

// After a ranking: the open shortlist keeps the role and method it was ranked with.
export function rankedWith(query, method) {
  const list = state.shortlist;
  if (!list || (list.query === query && list.method === method)) return;
  list.query = query;
  list.method = method;
  save(() => api(path(list.id), sendJSON("PATCH", { query, method })));
}

export async function refreshPicker() {
  let items = [];
  try {
    items = (await api("/shortlists")).items;
  } catch (err) {
    return;
  }
  const picker = $("shortlist-picker");
  const none = el("option", state.shortlist ? "New shortlist" : "New, not saved yet");
  none.value = "";
  const options = items.map((s) => {
    const option = el("option", `${s.name} (${s.n_stars} ${s.n_stars === 1 ? "star" : "stars"})`);
    option.value = String(s.id);
    return option;
  });
  picker.replaceChildren(none, ...options);
  picker.value = state.shortlist ? String(state.shortlist.id) : "";
}

// Checks the starred ids against the served pool (and learns their titles).
export async function checkStars() {
  state.missing = new Set();
  await Promise.all(state.stars.map(async (id) => {
    try {
      state.titles[id] = (await api(`/candidates/${encodeURIComponent(id)}`)).title;
    } catch (err) {
      if (err.status === 404) state.missing.add(id);
    }
  }));
}

// The notes being typed, queued for saving now (before the shortlist they belong to is
// left or exported).
function flushNotes() {
  for (const id of Object.keys(noteTimers)) saveNote(id);
}

// Opens a saved shortlist into the page; false (having said why) when it cannot.
export async function openShortlist(id, hooks) {
  flushNotes();
  await queue;
  let saved;
  try {
    saved = await api(path(id));
  } catch (err) {
    setAddress(null);
    showError(err.status === 404 ? `Shortlist ${id} no longer exists.` : `Cannot open shortlist ${id}: ${err.message}`);
    return false;
  }
  adopt(saved);
  state.stars = saved.stars.map((s) => s.id);
  state.notes = Object.fromEntries(saved.stars.map((s) => [s.id, s.note]));
  $("query").value = saved.query || "";
  const method = [...$("method").options].find((o) => o.value === saved.method && !o.disabled);
  if (method) $("method").value = method.value;
  await checkStars();
  renderStars(hooks.onStar);
  setSaveStatus(`Opened “${saved.name}”, last changed ${new Date(saved.updated_at).toLocaleString()}.`);
  await refreshPicker();
  hooks.rank();
  return true;
}

async function startNew(hooks) {
  flushNotes();
  await queue;
  state.shortlist = null;
  state.stars = [];
  state.notes = {};
  state.missing = new Set();
  $("shortlist-name").value = "";
  $("shortlist-delete").disabled = true;
  for (const button of document.querySelectorAll("[data-export=shortlist]")) button.disabled = true;
  setAddress(null);
  setSaveStatus("A new shortlist: star a candidate, or name it and press Rename, to save it.");
  refreshPicker();
  renderStars(hooks.onStar);
  hooks.rank();
}

async function remove(hooks) {
  const list = state.shortlist;
  if (!list || !window.confirm(`Delete the shortlist “${list.name}” and its notes?`)) return;
  try {
    await queue;
    await api(path(list.id), { method: "DELETE" });
  } catch (err) {
    setSaveStatus(`Not deleted: ${err.message}`, true);
    return;
  }
  await startNew(hooks);
  setSaveStatus(`Deleted “${list.name}”.`);
}

function rename() {
  const name = $("shortlist-name").value.trim();
  if (!name) {
    setSaveStatus("Give the shortlist a name first.", true);
    $("shortlist-name").focus();
    return;
  }
  save(async () => {
    const [list, created] = await ensureSaved();
    if (!created) adopt(await api(path(list.id), sendJSON("PATCH", { name })));
  });
}

// The starred candidates, each with its note field and an unstar button.
export function renderStars(onStar) {
  const typing = document.activeElement;
  const resume = typing && typing.dataset && typing.dataset.testid === "star-note"
    ? [typing.dataset.id, typing.selectionStart, typing.selectionEnd]
    : null;
  const n = state.stars.length;
  $("star-count").textContent = n ? `${n} of ${state.maxStars} starred` : "No starred candidates";
  $("star-hint").hidden = n > 0;
  $("clear-stars").disabled = n === 0;
  const chips = state.stars.map((id) => {
    const li = testid(el("li", null, "chip"), "star-chip");
    li.dataset.id = id;
    const title = state.titles[id] || id;
    const head = el("div", null, "chip-head");
    const name = el("span", `★ ${title}`, "chip-title");
    name.title = id;
    const remove = el("button", "×");
    remove.type = "button";
    remove.setAttribute("aria-label", `Unstar ${title} (${id})`);
    remove.addEventListener("click", () => onStar(id));
    head.append(name, el("span", id, "cid"), remove);
    if (state.missing.has(id)) head.append(el("span", "not in the served pool", "missing"));
    const label = el("label", null, "note");
    label.append(el("span", `Note on ${title}`, "sr-only"));
    const note = testid(el("textarea"), "star-note");
    note.rows = 1;
    note.maxLength = 2000;
    note.placeholder = "Note: why this candidate?";
    note.value = state.notes[id] || "";
    note.dataset.id = id;
    note.addEventListener("input", () => noteChanged(id, note.value));
    note.addEventListener("change", () => saveNote(id)); // left the field: saved now
    label.append(note);
    li.append(head, label);
    return li;
  });
  $("star-chips").replaceChildren(...chips);
  if (resume) { // drawn anew while the recruiter types a note: the cursor stays put
    const note = [...$("star-chips").querySelectorAll("textarea")].find((t) => t.dataset.id === resume[0]);
    if (note) {
      note.focus();
      note.setSelectionRange(resume[1], resume[2]);
    }
  }
}

export function wireShortlists(hooks) {
  $("shortlist-form").addEventListener("submit", (event) => {
    event.preventDefault();
    rename();
  });
  $("shortlist-new").addEventListener("click", () => startNew(hooks));
  $("shortlist-delete").addEventListener("click", () => remove(hooks));
  $("shortlist-picker").addEventListener("change", () => {
    const id = $("shortlist-picker").value;
    if (id) openShortlist(id, hooks);
    else startNew(hooks);
  });
}

export function shortlistInAddress() {
  return new URL(window.location.href).searchParams.get("shortlist");
}

// Every change so far saved, notes still being typed included (the export waits on this).
export function saved() {
  flushNotes();
  return queue;
}
