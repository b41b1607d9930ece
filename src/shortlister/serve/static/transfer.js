// Files in and out: export the ranked list or the shortlist (CSV or JSON), upload a pool
// (CSV, TSV or Parquet) and see which rows were rejected and why.
import { $, api, download, el, sendJSON, testid } from "./api.js";
import { state } from "./state.js";
import { saved } from "./shortlists.js";

function say(box, text, failed = false) {
  box.replaceChildren(el("p", text, failed ? "failed" : ""));
}

async function exportList(kind, format, buildRequest) {
  const box = $("upload-result");
  try {
    if (kind === "shortlist") {
      await saved(); // the file has every star and note typed so far
      if (!state.shortlist) return;
      const name = await download(
        `/shortlists/${state.shortlist.id}/export?format=${format}`, {}, `shortlist.${format}`,
      );
      say(box, `Downloaded ${name}.`);
      return;
    }
    const request = buildRequest();
    if (!request) {
      say(box, "Type a target role or star a candidate first: there is no list to export.", true);
      return;
    }
    const name = await download(
      `/rank/export?format=${format}`, sendJSON("POST", request), `ranked.${format}`,
    );
    say(box, `Downloaded ${name}.`);
  } catch (err) {
    say(box, `Export failed: ${err.message}`, true);
  }
}

function rejectsTable(rejects) {
  const table = testid(el("table", null, "rejects"), "rejects");
  const caption = el("caption", "Rejected rows and why");
  const head = el("tr");
  for (const name of ["Row", "Id", "Field", "Reason"]) {
    const th = el("th", name);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const r of rejects) {
    const tr = testid(el("tr"), "reject-row");
    tr.append(
      el("td", r.row === null ? "–" : String(r.row), "num"),
      el("td", r.id || "–", "cid"),
      el("td", r.field),
      el("td", r.reason),
    );
    body.append(tr);
  }
  table.append(caption, thead, body);
  return table;
}

function rejectsLink(url) {
  const link = testid(el("a", "Download all rejected rows (CSV)"), "rejects-download");
  link.href = url;
  link.addEventListener("click", async (event) => {
    event.preventDefault(); // fetched with the token, which a plain link cannot send
    try {
      await download(url, {}, "rejects.csv");
    } catch (err) {
      link.after(el("span", ` ${err.message}`, "failed"));
    }
  });
  return link;
}

// What an upload did: counts, the rejected rows with their reasons, the rejects file.
function showUpload(body, refused) {
  const box = $("upload-result");
  const parts = [];
  if (refused) {
    parts.push(testid(el("p", `Not uploaded: ${refused}`, "failed"), "upload-counts"));
  } else {
    const rejected = body.rejected ? `, ${body.rejected.toLocaleString()} rejected` : ", none rejected";
    const how = body.mode === "join" ? "added to the pool" : "now the pool";
    parts.push(testid(el(
      "p",
      `${body.file_name}: ${body.accepted.toLocaleString()} accepted${rejected}; ` +
        `${how}: ${body.n_candidates.toLocaleString()} candidates.`,
    ), "upload-counts"));
  }
  if (body && body.rejects && body.rejects.length) {
    parts.push(rejectsTable(body.rejects));
    if (body.rejects_truncated) parts.push(el("p", "The first rows are listed; the file has all of them.", "muted"));
    if (body.rejects_url) {
      const line = el("p");
      line.append(rejectsLink(body.rejects_url));
      parts.push(line);
    }
  }
  box.replaceChildren(...parts);
}

async function upload(event, onPoolChanged) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) {
    say($("upload-result"), "Choose a file first.", true);
    $("upload-file").focus();
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("mode", document.querySelector("input[name=mode]:checked").value);
  say($("upload-result"), `Uploading ${file.name}…`);
  $("upload-form").querySelector("button").disabled = true;
  try {
    showUpload(await api("/pools/upload", { method: "POST", body: form }), null);
    await onPoolChanged();
  } catch (err) {
    showUpload(err.body, err.message);
  } finally {
    $("upload-form").querySelector("button").disabled = false;
  }
}

export function wireTransfer({ buildRequest, onPoolChanged }) {
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () =>
      exportList(button.dataset.export, button.dataset.format, buildRequest));
  }
  $("upload-form").addEventListener("submit", (event) => upload(event, onPoolChanged));
}
