// Filters, order and folding: the pool's countries (GET /filters), a screening-score range,
// sort by match or screening, identical headlines folded. All go into the /rank request.
import { $, api, el } from "./api.js";

function number(id) {
  const text = $(id).value.trim();
  return text === "" || Number.isNaN(Number(text)) ? null : Number(text);
}

// The filter fields of a /rank (and /rank/export) body.
export function filterRequest() {
  const country = $("country").value;
  return {
    countries: country ? [country] : [],
    screening_min: number("screening-min"),
    screening_max: number("screening-max"),
    sort: $("sort").value,
    group_duplicates: $("group").checked,
  };
}

// Whether any filter narrows the pool (the summary then counts the candidates that pass).
export function filtering() {
  const f = filterRequest();
  return f.countries.length > 0 || f.screening_min !== null || f.screening_max !== null;
}

export async function loadFilters() {
  const info = await api("/filters");
  const select = $("country");
  const chosen = select.value;
  const any = el("option", "Any country");
  any.value = "";
  const options = info.countries.map((c) => {
    const option = el("option", `${c.name} (${c.n.toLocaleString()})`);
    option.value = c.name;
    return option;
  });
  select.replaceChildren(any, ...options);
  select.value = options.some((o) => o.value === chosen) ? chosen : "";
  const range = info.screening;
  for (const id of ["screening-min", "screening-max"]) {
    $(id).disabled = range.n_scored === 0;
  }
  if (range.n_scored > 0) {
    $("screening-min").placeholder = String(Math.floor(range.min));
    $("screening-max").placeholder = String(Math.ceil(range.max));
  }
  return info;
}

export function wireFilters(rank) {
  for (const id of ["country", "sort", "group", "screening-min", "screening-max"]) {
    $(id).addEventListener("change", rank);
  }
}
