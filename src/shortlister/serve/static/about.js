// The "about" view: how the served methods compare on the benchmarks (a figure the
// service draws from the pipeline's reports), in a dialog.
import { $, dataURL, el } from "./api.js";
import { state } from "./state.js";

let loaded = false;

function served() {
  return Object.values(state.methods);
}

async function load() {
  const methods = served();
  const list = methods.map((m) => `${m.label} (${m.name})`).join(", ");
  $("about-methods").replaceChildren(
    ...methods.flatMap((m) => {
      const line = el("span", null, "about-method");
      line.append(el("strong", m.label), document.createTextNode(` (${m.name}): ${m.description || ""}`));
      return [line, el("br")];
    }).slice(0, -1),
  );
  $("about-status").textContent = "Drawing the comparison…";
  try {
    const figure = $("about-figure");
    figure.src = await dataURL("/about/comparison.png");
    figure.alt = `Bar chart of mean average precision on each benchmark's test queries, ` +
      `best first, for the methods served here: ${list}.`;
    figure.hidden = false;
    $("about-status").textContent = "Mean average precision (MAP) per benchmark; longer bars are better.";
    loaded = true;
  } catch (err) {
    $("about-status").textContent = `No comparison to show: ${err.message}`;
  }
}

export function wireAbout() {
  const dialog = $("about");
  $("about-open").addEventListener("click", () => {
    dialog.showModal();
    if (!loaded) load();
  });
  $("about-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => $("about-open").focus());
}

// The methods changed (a new pool): the figure is drawn again when next opened.
export function forgetAbout() {
  loaded = false;
}
