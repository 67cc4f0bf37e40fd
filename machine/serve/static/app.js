// The classroom page: ask the JSON API, show the answers. No libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const FILL = { ran: "#e3f4e1", failed: "#fbd5d5", "not-run": "#eeeeee" };
const FIELDS = ["kernel", "notifiers", "its_init", "machine", "smp", "memory", "cpu", "accel"];
let run = null;   // the last /api/run answer
let shown = 0;    // how many of its trace entries are on screen
let done = 0;     // how many steps (a folded run is one) were taken

function query() {
  const q = new URLSearchParams();
  for (const f of FIELDS) q.set(f, $(f).value);
  if ($("drop").value) q.append("drop", $("drop").value);
  return q;
}

async function ask(path, q) {
  $("error").textContent = "";
  const answer = await fetch(path + "?" + q.toString());
  const data = await answer.json();
  if (!answer.ok) {
    $("error").textContent = data.error || ("HTTP " + answer.status);
    return null;
  }
  return data;
}

function fill(select, values, chosen) {
  select.replaceChildren(...values.map((v) => new Option(v, v, false, v === chosen)));
}

async function start() {
  const options = await ask("/api/options", new URLSearchParams());
  const d = options.defaults;
  for (const key of ["kernel", "notifiers", "its_init"]) fill($(key), options.choices[key], d[key]);
  fill($("accel"), options.accel, d.accel);
  $("limit").value = options.limit.default;
  $("limit").max = options.limit.max;
  for (const key of ["machine", "smp", "memory", "cpu"]) $(key).value = d[key];
  await bringUp();
}

async function bringUp() {
  const keep = $("drop").value;
  const data = await ask("/api/run", query());
  if (data === null) return;
  run = data;
  shown = 0;
  done = 0;
  const verdict = $("verdict");
  verdict.className = data.ok ? "ok" : "failed";
  verdict.textContent = data.ok ? "came up: " + data.describe : data.failure;
  $("graph").innerHTML = data.svg;
  $("order").replaceChildren(...data.order.map((n) => Object.assign(document.createElement("li"), { textContent: n })));
  $("hazards").replaceChildren(...data.hazards.map((h) => Object.assign(document.createElement("li"), { textContent: "hazard: " + h })));
  const drops = data.edges.map((e) => e.declared_by + "=" + (e.declared_by === e.target ? e.source : e.target));
  if (keep && !drops.includes(keep)) drops.push(keep);
  fill($("drop"), ["", ...drops], keep);
  $("drop").options[0].textContent = "(none)";
  $("trace").tBodies[0].replaceChildren();
  where();
}

function where() {
  const total = run ? run.steps.filter((s) => s.run > 0).length : 0;
  $("where").textContent = "step " + done + " of " + total;
}

function colour(name) {
  const node = document.querySelector('#graph g.node[data-name="' + CSS.escape(name) + '"] rect');
  const status = run.statuses[name];
  if (node && status) node.setAttribute("fill", FILL[status] || "#ffffff");
}

function step() {
  if (!run || shown >= run.steps.length) return;
  const s = run.steps[shown];
  const group = run.steps.slice(shown, shown + s.run);
  shown += s.run;
  done++;
  const row = document.createElement("tr");
  row.className = s.kind + (s.ok ? "" : " failed") + (s.summary ? " folded" : "");
  const indent = "\u00a0".repeat(4 * s.depth);
  const cells = [String(s.seq), s.kind, indent + s.text, s.ok ? "ok" : "FAILED"];
  for (const text of cells) row.appendChild(Object.assign(document.createElement("td"), { textContent: text }));
  if (s.summary) {
    // A folded run: its summary line, the entries it stands for one click away.
    const details = document.createElement("details");
    details.appendChild(Object.assign(document.createElement("summary"), { textContent: indent + s.summary }));
    for (const e of group) details.appendChild(Object.assign(document.createElement("div"), { textContent: e.text }));
    row.cells[2].replaceChildren(details);
  }
  const body = $("trace").tBodies[0];
  for (const old of body.querySelectorAll("tr.current")) old.classList.remove("current");
  row.classList.add("current");
  body.appendChild(row);
  if (s.notifier) colour(s.notifier);
  where();
}

function runAll() { while (run && shown < run.steps.length) step(); }

async function explore() {
  $("explore-out").textContent = "exploring...";
  const q = query();
  q.set("limit", $("limit").value);
  const data = await ask("/api/explore", q);
  $("explore-out").textContent = data === null ? "" : data.text;
}

$("settings").addEventListener("submit", (event) => { event.preventDefault(); bringUp(); });
$("step").addEventListener("click", step);
$("run-all").addEventListener("click", runAll);
$("restart").addEventListener("click", bringUp);
$("explore").addEventListener("click", explore);
start();
