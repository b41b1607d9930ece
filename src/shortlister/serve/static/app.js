// The recruiter page: rank the pool for a role, star candidates to re-rank at once, keep
// the shortlist (saved as one works), filter, export and upload.
// Plain DOM and ES modules, no build step; every candidate field is written as text.
import { $, api, el, sendJSON, showError, token } from "./api.js";
import { activeStars, state } from "./state.js";
import { label, renderResults, seconds, showLLM } from "./results.js";
import { filterRequest, filtering, loadFilters, wireFilters } from "./filters.js";
import {
  checkStars, openShortlist, rankedWith, refreshPicker, renderStars, shortlistInAddress,
  starChanged, wireShortlists,
} from "./shortlists.js";
import { wireTransfer } from "./transfer.js";
import { forgetAbout, wireAbout } from "./about.js";

const TOKEN_KEY = "shortlister-token";
let ready = false; // the filters and shortlists loaded (once the server first answers)
const TOKEN_HELP =
  "Enter the token the server was started with (the SHORTLISTER_API_TOKEN environment variable).";

function setStatus(text) {
  $("pool-status").textContent = text;
}

function methodPlaceholder(text) {
  const option = el("option", text);
  option.value = "";
  $("method").replaceChildren(option);
  $("method").disabled = true;
}

// Says why nothing can be ranked yet, and puts the cursor where the token goes.
function askForToken(wrong) {
  methodPlaceholder("enter the API token first");
  $("token").setAttribute("aria-invalid", String(wrong));
  showError(
    wrong ? `The API token is wrong. ${TOKEN_HELP}` : `This server needs an API token. ${TOKEN_HELP}`,
  );
  $("token").focus();
}

// The option for a served method: its plain label, the technical name and what it does
// in the tooltip.
function methodOption(m, chosen) {
  const first = m.llm && m.llm.first_stage;
  const text = first ? `${m.label} over ${label(first)}` : m.label;
  const option = el("option", text);
  option.value = m.name;
  option.title = `${m.name}${m.description ? `: ${m.description}` : ""}`;
  option.selected = m.name === chosen;
  return option;
}

function describeMethod() {
  const m = state.methods[$("method").value];
  const help = $("method-help");
  help.textContent = m ? m.description : "";
  help.title = m ? `method: ${m.name}` : "";
}

async function loadMethods() {
  const info = await api("/methods");
  const select = $("method");
  const chosen = select.value && !select.disabled ? select.value : info.default;
  state.methods = Object.fromEntries(info.methods.map((m) => [m.name, m]));
  const options = info.methods.map((m) => methodOption(m, chosen));
  // Configured but not served (a model that is not there, a stage not yet run): said so.
  for (const [name, why] of Object.entries(info.unavailable || {})) {
    const option = el("option", `${name} (unavailable)`);
    option.value = name;
    option.title = why;
    option.disabled = true;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.disabled = false;
  if (!state.methods[select.value]) select.value = info.default;
  describeMethod();
  state.maxStars = info.limits.max_stars;
  $("query").maxLength = info.limits.max_query_chars;
  for (const option of $("top-k").options) {
    option.disabled = Number(option.value) > info.limits.max_top_k;
  }
  $("star-weight").value = info.star_weight;
  $("star-weight-value").textContent = Number(info.star_weight).toFixed(2);
  return info;
}

// Loads the methods with the token in the field; false, having said why, when it cannot.
// One call per token, however many events (Enter, change, a search) ask at once.
function connect() {
  const tried = token();
  if (!state.trying || state.trying.token !== tried) {
    const result = tryToken(tried);
    state.trying = { token: tried, result };
    result.then(() => {
      if (state.trying && state.trying.result === result) state.trying = null;
    });
  }
  return state.trying.result;
}

async function tryToken(tried) {
  try {
    await loadMethods();
  } catch (err) {
    if (err.status !== 401) {
      showError(`Cannot reach the server: ${err.message}`);
      return false;
    }
    state.rejectedToken = tried;
    if (state.acceptedToken === tried) state.acceptedToken = null;
    sessionStorage.removeItem(TOKEN_KEY);
    if (token() === tried) askForToken(Boolean(tried));
    return false;
  }
  state.acceptedToken = tried;
  if (state.rejectedToken === tried) state.rejectedToken = null;
  if (state.authRequired) sessionStorage.setItem(TOKEN_KEY, tried);
  if (token() === tried) {
    $("token").removeAttribute("aria-invalid");
    showError("");
  }
  if (!ready) {
    ready = true;
    await connected();
  }
  return true;
}

// Once the server has answered: its filters, the saved shortlists, the one in the address.
async function connected() {
  try {
    await loadFilters();
  } catch (err) {
    showError(`Cannot load the filters: ${err.message}`);
  }
  const id = shortlistInAddress();
  if (!id || !(await openShortlist(id, hooks))) await refreshPicker();
  document.body.dataset.ready = "true";
}

// Whether /rank may be called now: no request goes out with a token known to be refused.
async function authorised() {
  if (!state.authRequired || token() === state.acceptedToken) return true;
  if (!token() || token() === state.rejectedToken) {
    askForToken(Boolean(token()));
    return false;
  }
  return connect();
}

async function showPool() {
  const health = await api("/health");
  setStatus(`${health.n_candidates.toLocaleString()} candidates in the pool`);
  return health;
}

async function init() {
  let health;
  try {
    health = await showPool();
  } catch (err) {
    showError(`Cannot reach the server: ${err.message}`);
    return;
  }
  state.authRequired = health.auth_required;
  $("token-row").hidden = !health.auth_required;
  if (health.auth_required) {
    $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
    if (!token()) {
      askForToken(false);
      return;
    }
  }
  await connect();
}

// The /rank body for what the page shows now; null when there is nothing to rank.
function buildRequest() {
  const query = $("query").value.trim();
  const stars = activeStars();
  if (!query && stars.length === 0) return null;
  return {
    query: query || null,
    stars,
    method: $("method").value || null,
    top_k: Number($("top-k").value),
    star_weight: Number($("star-weight").value),
    ...filterRequest(),
  };
}

async function rank() {
  const request = buildRequest();
  if (!request) {
    state.seq += 1;
    draw(null);
    return;
  }
  if (!(await authorised())) return;
  const seq = ++state.seq;
  document.body.classList.add("busy");
  const llm = (state.methods[request.method] || {}).llm;
  if (llm) {
    showLLM({ status: "pending" }, `Re-ranking with ${llm.model} (at most ${seconds(llm.timeout_s)})…`);
  }
  try {
    const result = await api("/rank", sendJSON("POST", request));
    if (seq !== state.seq) return;
    showError("");
    draw(result);
    rankedWith(request.query, result.method);
  } catch (err) {
    if (seq !== state.seq) return;
    showLLM(null);
    if (err.status === 401) {
      state.acceptedToken = null;
      state.rejectedToken = token();
      askForToken(Boolean(token()));
    } else {
      showError(err.message);
    }
  } finally {
    if (seq === state.seq) document.body.classList.remove("busy");
  }
}

let renders = 0; // how many answers were drawn (data-renders: tests wait on it)

function draw(result) {
  state.lastResult = result;
  $("results-panel").dataset.renders = String(++renders);
  renderResults(result, { onStar: toggleStar, filtered: filtering() });
  renderStars(toggleStar);
}

function toggleStar(id, title) {
  if (title) state.titles[id] = title;
  const at = state.stars.indexOf(id);
  if (at >= 0) {
    state.stars.splice(at, 1);
    delete state.notes[id];
    state.missing.delete(id);
    starChanged(id, false);
  } else if (state.stars.length < state.maxStars) {
    state.stars.push(id);
    starChanged(id, true);
  }
  renderStars(toggleStar);
  rank();
}

// A new pool (an upload): its size, methods and filters, and which stars it still holds.
async function poolChanged() {
  forgetAbout();
  await Promise.all([showPool(), loadMethods(), loadFilters(), checkStars()]);
  renderStars(toggleStar);
  rank();
}

const hooks = { onStar: toggleStar, rank };
let debounce = null;

function wire() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(debounce);
    rank();
  });
  $("query").addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(rank, 250);
  });
  $("method").addEventListener("change", () => {
    describeMethod();
    rank();
  });
  $("top-k").addEventListener("change", rank);
  $("star-weight").addEventListener("input", () => {
    $("star-weight-value").textContent = Number($("star-weight").value).toFixed(2);
  });
  $("star-weight").addEventListener("change", () => {
    if (state.stars.length) rank();
  });
  $("clear-stars").addEventListener("click", () => {
    for (const id of [...state.stars]) toggleStar(id);
  });
  $("token").addEventListener("change", async () => {
    if (token() !== state.acceptedToken && (await authorised())) rank();
  });
  wireFilters(rank);
  wireShortlists(hooks);
  wireTransfer({ buildRequest, onPoolChanged: poolChanged });
  wireAbout();
}

wire();
init();
