// The recruiter page: rank the pool for a role, star candidates to re-rank at once.
// Plain DOM, no build step; every candidate field is written with textContent.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  stars: [],          // starred ids, in the order they were starred (pinned in this order)
  titles: {},         // id -> title, for the star chips
  maxStars: 5,
  maxQueryChars: 200,
  authRequired: false,
  acceptedToken: null, // the token the server last accepted
  rejectedToken: null, // the token it last refused: not sent again
  trying: null,       // the /methods call in flight: {token, result}
  seq: 0,             // only the latest request's answer is drawn
  methods: {},        // name -> /methods entry (method llm: its first stage and model)
};

const TOKEN_KEY = "shortlister-token";
const TOKEN_HELP =
  "Enter the token the server was started with (the SHORTLISTER_API_TOKEN environment variable).";

function token() {
  return $("token").value.trim();
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setStatus(text) {
  $("pool-status").textContent = text;
}

function methodPlaceholder(text) {
  const option = document.createElement("option");
  option.value = "";
  option.textContent = text;
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

async function loadMethods() {
  const info = await api("/methods");
  const select = $("method");
  select.replaceChildren();
  select.disabled = false;
  state.methods = {};
  for (const m of info.methods) {
    state.methods[m.name] = m;
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.llm ? `${m.name} (${m.llm.model} over ${m.llm.first_stage})` : m.name;
    option.selected = m.name === info.default;
    select.append(option);
  }
  // Configured but not served (a model that is not there, a stage not yet run): said so.
  for (const [name, why] of Object.entries(info.unavailable || {})) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name} (unavailable)`;
    option.title = why;
    option.disabled = true;
    select.append(option);
  }
  state.maxStars = info.limits.max_stars;
  state.maxQueryChars = info.limits.max_query_chars;
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
  return true;
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

async function init() {
  let health;
  try {
    health = await api("/health");
  } catch (err) {
    showError(`Cannot reach the server: ${err.message}`);
    return;
  }
  state.authRequired = health.auth_required;
  $("token-row").hidden = !health.auth_required;
  setStatus(`${health.n_candidates.toLocaleString()} candidates`);
  if (health.auth_required) {
    $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
    if (!token()) {
      askForToken(false);
      return;
    }
  }
  await connect();
}

async function rank() {
  const query = $("query").value.trim();
  if (!query && state.stars.length === 0) {
    state.seq += 1;
    render(null);
    return;
  }
  if (!(await authorised())) return;
  const request = {
    query: query || null,
    stars: state.stars,
    method: $("method").value || null,
    top_k: Number($("top-k").value),
    star_weight: Number($("star-weight").value),
  };
  const seq = ++state.seq;
  document.body.classList.add("busy");
  const llm = (state.methods[request.method] || {}).llm;
  if (llm) {
    showLLM({ status: "pending" }, `Re-ranking with ${llm.model} (at most ${seconds(llm.timeout_s)})…`);
  }
  try {
    const result = await api("/rank", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    if (seq !== state.seq) return;
    showError("");
    render(result);
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

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function starButton(item) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "star";
  button.dataset.testid = "star-toggle";
  button.setAttribute("aria-pressed", String(item.starred));
  button.setAttribute("aria-label", `${item.starred ? "Unstar" : "Star"} ${item.id}`);
  button.textContent = item.starred ? "★" : "☆";
  const full = !item.starred && state.stars.length >= state.maxStars;
  button.disabled = full;
  button.title = full ? `At most ${state.maxStars} stars` : item.starred ? "Unstar" : "Star";
  button.addEventListener("click", () => toggleStar(item.id, item.title));
  return button;
}

function matchCell(score) {
  const td = document.createElement("td");
  td.className = "match";
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
  bar.append(fill);
  const value = document.createElement("span");
  value.className = "score";
  value.dataset.testid = "score";
  value.textContent = score.toFixed(3);
  td.append(bar, value);
  return td;
}

function row(item) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "result-row";
  tr.dataset.id = item.id;
  tr.dataset.starred = String(item.starred);
  if (item.starred) tr.className = "starred";
  const starTd = document.createElement("td");
  starTd.className = "star-col";
  starTd.append(starButton(item));
  const who = document.createElement("td");
  const title = document.createElement("div");
  title.className = "title";
  title.textContent = item.title;
  const meta = document.createElement("div");
  meta.className = "meta";
  const id = document.createElement("span");
  id.className = "cid";
  id.dataset.testid = "candidate-id";
  id.textContent = item.id;
  meta.append(id);
  if (item.starred) {
    const pin = document.createElement("span");
    pin.className = "pin";
    pin.dataset.testid = "pinned";
    pin.textContent = "starred · pinned";
    meta.append(pin);
  }
  who.append(title, meta);
  const screening = item.screening_score === null ? "–" : item.screening_score.toFixed(0);
  tr.append(
    cell(String(item.rank), "num rank"),
    starTd,
    who,
    cell(item.location || "–", "location"),
    cell(screening, "num"),
    matchCell(item.score),
  );
  return tr;
}

function seconds(s) {
  return `${s < 10 ? Number(s.toPrecision(2)) : Math.round(s)} s`;
}

function showLLM(llm, text) {
  const box = $("llm-status");
  box.hidden = !llm;
  box.dataset.status = llm ? llm.status : "";
  box.textContent = llm ? text : "";
}

// Method llm: whether the list is the LLM's order, or the first stage's and why.
function llmText(llm, nStars) {
  const first = `showing the ${llm.first_stage} order`;
  switch (llm.status) {
    case "reranked":
      return `Re-ranked by ${llm.model} ` +
        (llm.cached ? "(cached)" : `in ${seconds(llm.seconds)}`) +
        `: the top ${llm.depth} of the ${llm.first_stage} order` +
        (nStars ? ", after the starred candidates." : ".");
    case "timeout":
      return `LLM timed out after ${seconds(llm.timeout_s)}: ${first}.`;
    case "error":
      return `LLM failed (${llm.detail}): ${first}.`;
    default:
      return `Not re-ranked by the LLM (${llm.detail}): ${first}.`;
  }
}

// Without stars, a query that matches nothing shows why instead of a list of zeros.
function noMatch(result) {
  return Boolean(result && result.match && !result.match.matched && result.stars.length === 0);
}

function render(result) {
  const body = $("results-body");
  const missed = noMatch(result);
  const items = result && !missed ? result.items : [];
  for (const item of items) state.titles[item.id] = item.title;
  body.replaceChildren(...items.map(row));
  $("empty").hidden = items.length > 0;
  $("empty").dataset.state = missed ? "no-match" : result ? "empty" : "idle";
  $("empty").textContent = missed
    ? `No candidate matches “${result.query}” with ${result.method}: ` +
      "check the spelling, use other words, or try another method."
    : result
      ? "No candidates."
      : "Type a target role to rank the pool.";
  const llm = result && result.llm;
  showLLM(llm, llm ? llmText(llm, result.stars.length) : "");
  $("timing").textContent = result
    ? `${result.method} · ${result.n_candidates.toLocaleString()} candidates ranked in ` +
      `${result.timing.total_ms.toFixed(1)} ms` +
      (result.timing.query_cached ? " (query vector cached)" : "")
    : "";
  renderStars();
}

function renderStars() {
  const n = state.stars.length;
  $("star-count").textContent = n
    ? `${n} of ${state.maxStars} starred`
    : "No starred candidates";
  $("star-hint").hidden = n > 0;
  $("clear-stars").disabled = n === 0;
  const chips = state.stars.map((id) => {
    const li = document.createElement("li");
    li.className = "chip";
    li.dataset.testid = "star-chip";
    const label = document.createElement("span");
    label.textContent = `★ ${state.titles[id] || id}`;
    label.title = id;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("aria-label", `Unstar ${id}`);
    remove.textContent = "×";
    remove.addEventListener("click", () => toggleStar(id));
    li.append(label, remove);
    return li;
  });
  $("star-chips").replaceChildren(...chips);
}

function toggleStar(id, title) {
  if (title) state.titles[id] = title;
  const at = state.stars.indexOf(id);
  if (at >= 0) {
    state.stars.splice(at, 1);
  } else if (state.stars.length < state.maxStars) {
    state.stars.push(id);
  }
  renderStars();
  rank();
}

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
  $("method").addEventListener("change", rank);
  $("top-k").addEventListener("change", rank);
  $("star-weight").addEventListener("input", () => {
    $("star-weight-value").textContent = Number($("star-weight").value).toFixed(2);
  });
  $("star-weight").addEventListener("change", () => {
    if (state.stars.length) rank();
  });
  $("clear-stars").addEventListener("click", () => {
    state.stars = [];
    renderStars();
    rank();
  });
  $("token").addEventListener("change", async () => {
    if (token() !== state.acceptedToken && (await authorised())) rank();
  });
}

wire();
init();
