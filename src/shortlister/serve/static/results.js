// The ranked list: one row per candidate (a card on a narrow screen) with why it is there:
// the role's words marked in its headline, its closest star and the two parts of its score.
import { $, api, el, testid } from "./api.js";
import { state } from "./state.js";

// The headline as text nodes with the shared words in <mark>. `spans` are [start, end)
// in code points (the server's string indices), not UTF-16 units.
export function highlighted(title, spans) {
  const chars = Array.from(title);
  const nodes = [];
  let at = 0;
  for (const [start, end] of spans || []) {
    if (start < at || end > chars.length || start >= end) continue;
    if (start > at) nodes.push(document.createTextNode(chars.slice(at, start).join("")));
    nodes.push(el("mark", chars.slice(start, end).join("")));
    at = end;
  }
  if (at < chars.length) nodes.push(document.createTextNode(chars.slice(at).join("")));
  return nodes;
}

function starButton(item, onStar) {
  const button = testid(el("button", item.starred ? "★" : "☆", "star"), "star-toggle");
  button.type = "button";
  button.dataset.id = item.id;
  button.setAttribute("aria-pressed", String(item.starred));
  button.setAttribute("aria-label", `Star ${item.title} (${item.id})`);
  const full = !item.starred && state.stars.length >= state.maxStars;
  button.disabled = full;
  button.title = full ? `At most ${state.maxStars} stars` : item.starred ? "Unstar" : "Star";
  button.addEventListener("click", () => onStar(item.id, item.title));
  return button;
}

function fixed(x, digits = 2) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

function matchCell(item) {
  const td = el("td", null, "match");
  td.dataset.label = "Match";
  const bar = el("span", null, "bar");
  const fill = el("span");
  fill.style.width = `${Math.max(0, Math.min(1, item.score)) * 100}%`;
  bar.append(fill);
  const value = testid(el("span", item.score.toFixed(3), "score"), "score");
  td.append(bar, value);
  return td;
}

function why(item) {
  const box = testid(el("div", null, "why"), "reasons");
  const reasons = item.reasons;
  if (!reasons) return box;
  if (reasons.shared_words.length) {
    const words = reasons.shared_words.map((w) => `“${w}”`).join(", ");
    box.append(testid(el("span", `shares ${words} with the role`), "reason-words"));
  }
  if (reasons.closest_star) {
    const star = testid(el("span", null, "near"), "reason-star");
    star.append(
      document.createTextNode(item.starred ? "closest other star: " : "closest to your star: "),
      el("q", reasons.closest_star.title),
      document.createTextNode(` (${fixed(reasons.closest_star.similarity)})`),
    );
    star.title = reasons.closest_star.id;
    box.append(star);
  }
  const parts = reasons.parts;
  if (parts.stars !== null) { // without stars the score is the role match alone
    const share = Math.round(parts.star_weight * 100);
    const text = parts.query === null
      ? `star similarity ${fixed(parts.stars)}`
      : `role match ${fixed(parts.query)} + star similarity ${fixed(parts.stars)}`;
    const line = testid(el("span", `${text} (stars weigh ${share}%)`, "parts"), "score-parts");
    line.title = "Match = (1 − star weight) × role match + star weight × star similarity";
    box.append(line);
  }
  return box;
}

// "×N": the other candidates with this headline, listed (with their location and
// screening score, fetched once) when the button is pressed.
function groupToggle(item) {
  const n = item.group_size;
  const list = testid(el("ul", null, "group-list"), "group-list");
  list.id = `group-${item.id}`;
  list.hidden = true;
  const button = testid(el("button", `×${n}`, "group"), "group-toggle");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", list.id);
  button.setAttribute("aria-label", `${n - 1} more with this headline`);
  button.title = `${n} candidates share this headline; the others are folded here`;
  let filled = false;
  button.addEventListener("click", async () => {
    const open = list.hidden;
    list.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open || filled) return;
    filled = true;
    list.replaceChildren(...item.group_ids.map((id) => testid(el("li", id), "group-member")));
    const shown = item.group_ids.slice(0, 20); // a few calls at most; the rest stay ids
    await Promise.all(shown.map(async (id, i) => {
      try {
        const c = await api(`/candidates/${encodeURIComponent(id)}`);
        const score = c.screening_score === null ? "no screening score" : `screening ${fixed(c.screening_score, 0)}`;
        list.children[i].textContent = `${id} · ${c.location || "no location"} · ${score}`;
      } catch (err) {
        // the id alone is still worth showing
      }
    }));
  });
  return [button, list];
}

function row(item, onStar) {
  const tr = testid(el("tr", null, item.starred ? "starred" : ""), "result-row");
  tr.dataset.id = item.id;
  tr.dataset.starred = String(item.starred);
  const starTd = el("td", null, "star-col");
  starTd.append(starButton(item, onStar));
  const who = el("td", null, "who");
  const title = testid(el("div", null, "title"), "title");
  title.append(...highlighted(item.title, item.reasons && item.reasons.highlights));
  const meta = el("div", null, "meta");
  meta.append(testid(el("span", item.id, "cid"), "candidate-id"));
  if (item.starred) meta.append(testid(el("span", "starred · pinned", "pin"), "pinned"));
  const extra = [];
  if (item.group_size > 1) {
    const [button, list] = groupToggle(item);
    meta.append(button);
    extra.push(list);
  }
  who.append(title, meta, why(item), ...extra);
  const location = el("td", item.location || "–", "location");
  location.dataset.label = "Location";
  const screening = el("td", item.screening_score === null ? "–" : item.screening_score.toFixed(0), "num screening");
  screening.dataset.label = "Screening";
  tr.append(el("td", String(item.rank), "num rank"), starTd, who, location, screening, matchCell(item));
  return tr;
}

export function seconds(s) {
  return `${s < 10 ? Number(s.toPrecision(2)) : Math.round(s)} s`;
}

export function showLLM(llm, text) {
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

function summary(result, items, filtered) {
  if (!result) return "";
  const n = result.n_candidates.toLocaleString();
  const passing = result.n_passing.toLocaleString();
  const shown = `Showing ${items.length}`;
  return filtered
    ? `${shown} of ${passing} candidates that pass the filters (${n} in the pool).`
    : `${shown} of ${n} candidates.`;
}

function debugText(result) {
  const t = result.timing;
  return `${result.method} · ${result.n_candidates.toLocaleString()} candidates ranked in ` +
    `${t.total_ms.toFixed(1)} ms (query ${t.query_ms.toFixed(1)} ms, ranking ` +
    `${t.rank_ms.toFixed(1)} ms)` + (t.query_cached ? " (query vector cached)" : "");
}

// Draws a /rank answer (null: nothing asked yet). Keeps the keyboard focus on the same
// control (a star, a "×N") when the rows are drawn anew.
export function renderResults(result, { onStar, filtered }) {
  const focused = document.activeElement;
  const keep = focused && focused.closest && focused.closest("#results-body")
    ? [focused.dataset.testid, focused.closest("tr").dataset.id]
    : null;
  const missed = noMatch(result);
  const items = result && !missed ? result.items : [];
  for (const item of items) state.titles[item.id] = item.title;
  $("results-body").replaceChildren(...items.map((item) => row(item, onStar)));
  $("results-panel").dataset.method = result ? result.method : "";
  $("empty").hidden = items.length > 0;
  $("empty").dataset.state = missed ? "no-match" : result ? "empty" : "idle";
  $("empty").textContent = missed
    ? `No candidate matches “${result.query}” with ${label(result.method)}: ` +
      "check the spelling, use other words, or try another method."
    : result
      ? (filtered ? "No candidate passes the filters." : "No candidates.")
      : "Type a target role to rank the pool.";
  $("summary").textContent = summary(result, items, filtered);
  const method = result && state.methods[result.method];
  $("score-scale").textContent = method ? method.score_scale : "";
  const llm = result && result.llm;
  showLLM(llm, llm ? llmText(llm, result.stars.length) : "");
  $("timing").textContent = result ? debugText(result) : "";
  if (keep) {
    const row = [...$("results-body").children].find((tr) => tr.dataset.id === keep[1]);
    const target = row && row.querySelector(`[data-testid="${keep[0]}"]`);
    if (target && !target.disabled) target.focus();
  }
}

export function label(name) {
  const method = state.methods[name];
  return method ? method.label : name;
}
