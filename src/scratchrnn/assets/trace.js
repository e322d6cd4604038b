// Draws the trace record's page model (scratchrnn.trace_page.page_model) and answers clicks.
// The picks that choose a formula's input values are those of trace_page.explain.
"use strict";
(function () {
  const model = JSON.parse(document.getElementById("data").textContent);
  const nodes = model.nodes;
  const lastStage = 2 * model.T;
  let stage = null; // null: every stage shown

  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  function format(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a < 1e-3 || a >= 1e4) return v.toExponential(1);
    return v.toFixed(3);
  }

  function flat(v) {
    return Array.isArray(v) ? v.flat(Infinity) : [v];
  }

  // a diverging colour: blue below zero, red above, stronger as |v| nears the row's largest
  function colour(v, scale) {
    if (!scale || !isFinite(v)) return "";
    const a = Math.min(1, Math.abs(v) / scale);
    const rgb = v < 0 ? "33,102,172" : "178,24,43";
    const text = a > 0.6 ? ";color:#fff" : "";
    return `background:rgba(${rgb},${(0.06 + 0.82 * a).toFixed(3)})${text}`;
  }

  function cellHtml(id, index, v, scale) {
    return `<span class="cell" data-node="${escapeHtml(id)}" data-index="${index}" data-value="${String(v)}"` +
      ` style="${colour(v, scale)}">${format(v)}</span>`;
  }

  function nodeHtml(id, scale) {
    const node = nodes[id];
    const v = node.value;
    let inner, cls, style = "";
    if (!Array.isArray(v)) {
      inner = cellHtml(id, "", v, scale);
      cls = "scalar";
    } else if (!Array.isArray(v[0])) {
      inner = v.map((x, j) => cellHtml(id, String(j), x, scale)).join("");
      cls = "vector";
      style = `grid-template-columns:repeat(${v.length},auto)`;
    } else {
      inner = v.map((row, i) => row.map((x, k) => cellHtml(id, `${i},${k}`, x, scale)).join("")).join("");
      cls = "matrix";
      style = `grid-template-columns:repeat(${v[0].length},auto)`;
    }
    return `<div class="node ${cls}" data-node="${escapeHtml(id)}" data-stage="${node.stage}" ` +
      `title="${escapeHtml(node.label)}" style="${style}">${inner}</div>`;
  }

  function rowScale(ids) {
    let m = 0;
    for (const id of ids) if (id) for (const x of flat(nodes[id].value)) if (isFinite(x)) m = Math.max(m, Math.abs(x));
    return m;
  }

  function sectionHtml(section) {
    const head = `<tr><th></th>${section.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>`;
    const rows = section.rows.map((row) => {
      const scale = rowScale(row.cells);
      const cells = row.cells.map((id) => `<td>${id ? nodeHtml(id, scale) : ""}</td>`).join("");
      const layer = row.layer === null || row.layer === undefined ? "" : String(row.layer);
      return `<tr data-row="${escapeHtml(row.key || row.label)}" data-layer="${layer}">` +
        `<th>${escapeHtml(row.label)}<span class="note">${escapeHtml(row.note || "")}</span></th>${cells}</tr>`;
    }).join("");
    return `<section id="${section.id}"><h2>${escapeHtml(section.title)}</h2>` +
      `<p class="text">${escapeHtml(section.text)}</p><div class="scroll"><table class="grid">` +
      `<thead>${head}</thead><tbody>${rows}</tbody></table></div></section>`;
  }

  function truncationHtml() {
    const T = model.T;
    const head = `<tr><th>loss at step s \\ step t</th>${[...Array(T).keys()].map((t) => `<th>${t}</th>`).join("")}</tr>`;
    const rows = [...Array(T).keys()].map((s) => `<tr data-loss="${s}"><th>loss_${s}</th>` +
      [...Array(T).keys()].map((t) => `<td data-step="${t}"></td>`).join("") + "</tr>").join("");
    return `<section id="truncation" hidden><h2>Truncation</h2><p class="text" id="truncation-text"></p>` +
      `<table class="grid reach" id="reach"><thead>${head}</thead><tbody>${rows}</tbody></table></section>`;
  }

  function draw() {
    const sections = model.sections;
    const page = document.getElementById("page");
    page.innerHTML = sections.map(sectionHtml).join("") + truncationHtml();
    document.getElementById("summary").textContent =
      `${model.cell.toUpperCase()}, ${model.T} steps, mean loss ${format(model.loss)}, learning rate ${model.lr}. ` +
      "Click any number to see the formula and the numbers that made it.";
    const select = document.getElementById("truncate");
    for (let k = 0; k < model.T; k++) select.insertAdjacentHTML("beforeend", `<option value="${k}">${k}</option>`);
  }

  // the values of one input of a formula, for the element at `index` (trace_page._pick)
  function pick(ref, index) {
    const parts = ref.ids.map((id) => nodes[id].value);
    const v = parts.length > 1 ? parts.flatMap((p) => flat(p)) : parts[0];
    const o = ref.offset || 0;
    switch (ref.pick) {
      case "all": return v;
      case "same": return index.length === 0 ? v : index.length === 1 ? v[index[0] + o] : v[index[0]][index[1]];
      case "row": return v[o + index[0]];
      case "col": return v.map((row) => row[index[0]]);
      case "i": return v[index[0] + o];
      case "k": return v[index[1]];
      default: throw new Error(`unknown pick ${ref.pick}`);
    }
  }

  function showPanel(id, indexText) {
    const node = nodes[id];
    const index = indexText === "" ? [] : indexText.split(",").map(Number);
    const value = index.reduce((v, i) => v[i], node.value);
    document.getElementById("panel-title").textContent = node.label + (index.length ? `[${index.join(", ")}]` : "");
    const valueEl = document.getElementById("panel-value");
    valueEl.textContent = String(value);
    valueEl.dataset.value = String(value);
    document.getElementById("panel-formula").textContent = node.formula;
    const inputs = node.inputs.map((ref) => {
      const picked = flat(pick(ref, index));
      const scale = Math.max(0, ...picked.filter(isFinite).map(Math.abs));
      const cells = picked.map((x) => `<span class="cell" data-value="${String(x)}" style="${colour(x, scale)}">` +
        `${format(x)}</span>`).join("");
      return `<div class="input" data-label="${escapeHtml(ref.label)}"><span class="label">${escapeHtml(ref.label)}` +
        `</span><span class="values">${cells}</span></div>`;
    });
    document.getElementById("panel-inputs").innerHTML = inputs.length ? inputs.join("")
      : '<p class="none">no inputs: a given value</p>';
    document.querySelectorAll(".node.source, .cell.picked").forEach((el) => el.classList.remove("source", "picked"));
    for (const ref of node.inputs) {
      for (const src of ref.ids) document.querySelectorAll(`.node[data-node="${src}"]`).forEach((el) => el.classList.add("source"));
    }
    document.querySelectorAll(`#page .cell[data-node="${id}"][data-index="${indexText}"]`)
      .forEach((el) => el.classList.add("picked"));
    document.getElementById("panel").hidden = false;
  }

  function stageText(s) {
    const T = model.T;
    if (s === null) return "every stage shown";
    if (s < T) return `forward pass, step ${s} of ${T - 1}`;
    if (s < 2 * T) return `backward pass, step ${2 * T - 1 - s} (right to left)`;
    return "weight gradients summed, and the update";
  }

  function setStage(s) {
    stage = s;
    document.getElementById("stage-label").textContent = stageText(s);
    document.querySelectorAll("#page .node").forEach((el) => {
      const own = Number(el.dataset.stage);
      el.classList.toggle("future", s !== null && own > s);
      el.classList.toggle("current", s !== null && own === s);
    });
  }

  function setTruncation(value) {
    const section = document.getElementById("truncation");
    if (value === "off") {
      section.hidden = true;
      return;
    }
    const k = Number(value);
    section.hidden = false;
    const reach = k === 0 ? "to step s only" : `back to steps s, s-1, ..., s-${k} and no further`;
    document.getElementById("truncation-text").textContent =
      `With truncate=${k} the loss at step s sends its gradient ${reach}: ` +
      `the state feeding step s-${k} is held constant. Blue: the steps each loss reaches; grey: the paths cut.`;
    document.querySelectorAll("#reach tr[data-loss]").forEach((tr) => {
      const s = Number(tr.dataset.loss);
      tr.querySelectorAll("td").forEach((td) => {
        const t = Number(td.dataset.step);
        td.className = t > s ? "" : t >= s - k ? "reached" : "cut";
        td.textContent = t > s ? "" : t >= s - k ? "✓" : "×";
      });
    });
  }

  draw();
  setStage(null);
  document.getElementById("page").addEventListener("click", (e) => {
    const cell = e.target.closest(".cell[data-node]");
    if (cell) showPanel(cell.dataset.node, cell.dataset.index);
  });
  document.getElementById("panel-close").addEventListener("click", () => {
    document.getElementById("panel").hidden = true;
    document.querySelectorAll(".node.source, .cell.picked").forEach((el) => el.classList.remove("source", "picked"));
  });
  document.getElementById("stage-next").addEventListener("click", () => {
    setStage(stage === null ? 0 : stage >= lastStage ? null : stage + 1);
  });
  document.getElementById("stage-prev").addEventListener("click", () => {
    setStage(stage === null ? lastStage : Math.max(0, stage - 1));
  });
  document.getElementById("stage-all").addEventListener("click", () => setStage(null));
  document.getElementById("truncate").addEventListener("change", (e) => setTruncation(e.target.value));
})();
