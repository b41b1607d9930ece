// Talking to the service: JSON calls and downloads, with the bearer token when one is set.

export const $ = (id) => document.getElementById(id);

export function token() {
  return $("token").value.trim();
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  if (token()) out.Authorization = `Bearer ${token()}`;
  return out;
}

// The {error, detail} body a refusal carries, as an Error with `status` and `body`.
async function refusal(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  const error = new Error(body && body.detail ? body.detail : response.statusText);
  error.status = response.status;
  error.body = body;
  return error;
}

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) throw await refusal(response);
  if (response.status === 204) return null;
  return response.json();
}

// A JSON body for api(): {method, headers, body}.
export function sendJSON(method, body) {
  return {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

function filename(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return match ? match[1] : fallback;
}

// Fetches a file (with the token, which a plain link cannot send) and saves it as the
// server names it. Returns that name.
export async function download(path, options = {}, fallback = "download") {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) throw await refusal(response);
  const name = filename(response, fallback);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

// An image as a data: URL (the page's policy allows those, and the call carries the token).
export async function dataURL(path) {
  const response = await fetch(path, { headers: headers({ Accept: "image/png" }) });
  if (!response.ok) throw await refusal(response);
  const blob = await response.blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// An element with text (never markup: candidate fields are written as text).
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function testid(node, id) {
  node.dataset.testid = id;
  return node;
}
