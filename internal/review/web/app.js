// The review page: draws the server's state, sends each decision at once,
// and moves the focus so a person can go through a reason with the keyboard
// alone. Everything from the catalog is put in the page as text, never as
// markup, since class names and details come from the outside world.
"use strict";

const token = document.querySelector('meta[name="scour-token"]').content;
const $ = (sel) => document.querySelector(sel);

let data = { reasons: [], classes: [], items: [] };
let reason = "";
let focusSha = "";
let rendered = []; // the items on screen, in order

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function kbd(k) { return el("kbd", {}, k); }
function short(sha) { return sha.slice(0, 10) + "…"; }
function byShaOf(sha) { return data.items.find((it) => it.sha256 === sha); }

function fmtScore(x) {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Scour-Token"] = token;
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.status + " " + r.statusText);
  return j;
}

let toastTimer;
function toast(msg, isError) {
  const t = $("#toast");
  t.textContent = msg;
  t.classList.toggle("error", !!isError);
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), isError ? 6000 : 2500);
}

// --- what is shown -------------------------------------------------------

function reasonsShown() {
  const present = new Set(data.items.map((it) => it.reason));
  const order = data.reasons.filter((r) => present.has(r));
  for (const r of present) if (!order.includes(r)) order.push(r);
  return order;
}

function matches(it) {
  const cls = $("#class-filter").value;
  const st = $("#state-filter").value;
  if (cls && it.class !== cls) return false;
  if (st === "undecided") return !it.decision;
  if (st) return it.decision === st;
  return true;
}

function drawCounts() {
  const c = { todo: 0, keep: 0, discard: 0, move: 0 };
  for (const it of data.items) c[it.decision || "todo"]++;
  $("#counts").replaceChildren(
    el("span", { class: "pill" }, el("b", {}, c.todo), " to review"),
    el("span", { class: "pill keep" }, el("b", {}, c.keep), " kept"),
    el("span", { class: "pill discard" }, el("b", {}, c.discard), " discarded"),
    ...(c.move ? [el("span", { class: "pill move" }, el("b", {}, c.move), " moved")] : []),
  );
}

function ownDoubt(it) {
  return (it.reason === "off-topic" && it.offtopic != null) || (it.reason === "misfiled" && it.misfiled != null);
}

function badgeText(it) {
  if (it.decision === "move") return "moved → " + it.moved_to;
  return it.decision === "keep" ? "kept" : "discarded";
}

// One of clean's views of the image: its score against the threshold it
// was flagged at, marked when over.
function doubtLine(name, score, threshold, extra) {
  if (score === undefined || score === null) return null;
  const over = score >= threshold;
  return el("div", { class: "doubt" + (over ? " over" : ""), title: `${name}: flagged at ${fmtScore(threshold)} or more` + (extra ? " · " + extra : "") },
    el("span", { class: "what" }, name), " ", el("b", {}, fmtScore(score)), " / " + fmtScore(threshold));
}

function drawTabs() {
  const cls = $("#class-filter").value;
  const tabs = reasonsShown().map((r, i) => {
    const of = data.items.filter((it) => it.reason === r && (!cls || it.class === cls));
    const todo = of.filter((it) => !it.decision).length;
    return el("button", {
      type: "button", role: "tab", class: "tab" + (todo === 0 ? " done" : ""), "data-reason": r,
      "aria-selected": r === reason ? "true" : "false", title: `${todo} of ${of.length} to review`,
      onclick: () => selectReason(r),
    }, i < 9 ? el("span", { class: "n" }, i + 1) : null, r, el("span", { class: "count" }, todo));
  });
  $("#tabs").replaceChildren(...tabs);
}

function drawClassFilter() {
  const sel = $("#class-filter");
  const keep = sel.value;
  const names = [...new Set([...data.classes.map((c) => c.name), ...data.items.map((it) => it.class)])];
  sel.replaceChildren(el("option", { value: "" }, "all classes"), ...names.map((n) => el("option", { value: n }, n)));
  sel.value = names.includes(keep) ? keep : "";
}

function refList(cls, large) {
  const c = data.classes.find((c) => c.name === cls);
  const refs = c ? c.references : [];
  if (refs.length === 0) return [el("p", { class: "missing" }, "No reference images for this class in scour.yaml.")];
  return refs.map((r) => r.url
    ? el("img", { src: r.url + (large ? "?size=large" : ""), alt: "reference: " + r.name, title: r.name, loading: "lazy" })
    : el("p", { class: "missing" }, `${r.name}: ${r.why}`));
}

function card(it) {
  const pic = el("div", { class: "pic", onclick: () => { setFocus(it.sha256); openViewer(); } },
    el("img", {
      src: "/image/" + it.sha256, alt: `${it.class} image ${short(it.sha256)}`, loading: "lazy",
      onerror: (e) => e.target.replaceWith(el("div", { class: "broken" }, "cannot be drawn (" + it.reason + ")")),
    }),
    it.copy ? el("div", { class: "copy", title: "the copy clean kept: " + it.copy }, el("img", { src: "/image/" + it.copy, alt: "copy kept" })) : null,
  );
  const notes = [];
  if (it.detail && !it.copy && it.detail !== it.suggest) notes.push(it.detail);
  if (it.also && it.also.length) notes.push("also " + it.also.join(", "));
  const act = (verdict) => (e) => { e.stopPropagation(); setFocus(it.sha256); decide(it.sha256, verdict); };
  const suggestion = it.suggest && it.decision !== "move"
    ? el("div", { class: "suggest", title: "clean thinks it belongs to " + it.suggest }, "belongs to ", el("b", {}, it.suggest), "?")
    : null;
  return el("article", {
    class: "card", "data-sha": it.sha256, "data-decision": it.decision || null,
    onclick: () => setFocus(it.sha256),
  },
    pic,
    el("span", { class: "badge" }, badgeText(it)),
    el("div", { class: "meta" },
      el("span", { class: "cls", title: it.class }, it.class),
      el("span", { class: "score", title: (it.method ? "method: " + it.method + " · " : "") + `${it.width}×${it.height}, ${Math.round(it.bytes / 1024)} KB` },
        // The reason's own view below says it on clean's common scale.
        ownDoubt(it) ? (it.reason === "off-topic" ? it.offtopic_method || "" : "") : "score " + fmtScore(it.score))),
    doubtLine("off-topic", it.offtopic, it.offtopic_threshold, it.offtopic_method),
    doubtLine("misfiled", it.misfiled, it.misfiled_threshold),
    suggestion,
    notes.length ? el("div", { class: "detail", title: notes.join(" · ") }, notes.join(" · ")) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "keep", title: "Keep (k)", onclick: act("keep") }, "Keep", kbd("k")),
      el("button", { type: "button", class: "discard", title: "Discard (d)", onclick: act("discard") }, "Discard", kbd("d")),
      it.suggest ? el("button", { type: "button", class: "move", title: "Move to " + it.suggest + " (m)", onclick: act("move") }, "→ " + it.suggest, kbd("m")) : null,
      el("button", { type: "button", class: "undo", title: "Undo this decision", onclick: (e) => { e.stopPropagation(); undo(it.sha256); } }, "↶ Undo")),
  );
}

function draw() {
  drawCounts();
  drawTabs();
  const main = $("#main");
  if (data.items.length === 0) {
    rendered = [];
    main.replaceChildren(el("p", { class: "empty" }, "Nothing is in quarantine. Run ", el("code", {}, "scour clean"), " first, then come back."));
    return;
  }
  const items = data.items.filter((it) => it.reason === reason && matches(it));
  // Where clean scored the reason, the server sends the most doubtful
  // first, and the class holding the most doubtful image comes first.
  const scored = items.some(ownDoubt);
  const order = [...new Set([...(scored ? [] : data.classes.map((c) => c.name)), ...items.map((it) => it.class)])];
  rendered = [];
  const groups = [];
  for (const cls of order) {
    const of = items.filter((it) => it.class === cls);
    if (of.length === 0) continue;
    rendered.push(...of);
    groups.push(el("section", { class: "group", "data-class": cls },
      el("aside", { class: "refs" },
        el("h2", {}, cls),
        el("p", { class: "sub" }, `${of.length} image${of.length === 1 ? "" : "s"} · reference images`),
        el("div", { class: "list" }, refList(cls, false))),
      el("div", { class: "grid" }, of.map(card))));
  }
  if (groups.length === 0) {
    main.replaceChildren(el("p", { class: "empty" }, "No image here matches the filters."));
    return;
  }
  main.replaceChildren(...groups);
  if (!rendered.some((it) => it.sha256 === focusSha)) {
    const next = rendered.find((it) => !it.decision) || rendered[0];
    focusSha = next.sha256;
  }
  setFocus(focusSha, true);
}

function cardOf(sha) { return document.querySelector(`.card[data-sha="${sha}"]`); }

function setFocus(sha, quiet) {
  document.querySelectorAll(".card.focus").forEach((c) => c.classList.remove("focus"));
  focusSha = sha;
  const c = cardOf(sha);
  if (!c) return;
  c.classList.add("focus");
  if (!quiet) c.scrollIntoView({ block: "nearest" });
  if (!$("#viewer").hidden) openViewer();
}

function selectReason(r) {
  if (r === reason) return;
  reason = r;
  history.replaceState(null, "", "#" + encodeURIComponent(r));
  focusSha = "";
  draw();
  window.scrollTo(0, 0);
}

function updateCard(it) {
  const c = cardOf(it.sha256);
  if (c) c.replaceWith(card(it));
  drawCounts();
  drawTabs();
}

// --- decisions -----------------------------------------------------------

async function decide(sha, verdict) {
  const it = byShaOf(sha);
  if (!it || it.decision === verdict) return;
  const body = { sha256: sha, decision: verdict };
  if (verdict === "move") {
    if (!it.suggest) { toast("Clean suggests no other class for this image", true); return; }
    body.class = it.suggest;
  }
  const c = cardOf(sha);
  if (c) c.classList.add("busy");
  try {
    await call("POST", "/api/decide", body);
  } catch (e) {
    if (c) c.classList.remove("busy");
    toast("Not saved: " + e.message, true);
    return;
  }
  it.decision = verdict;
  it.moved_to = verdict === "move" ? body.class : "";
  const done = verdict === "move" ? "Moved to " + body.class + ":" : verdict === "keep" ? "Kept" : "Discarded";
  toast(`${done} ${it.class} ${short(sha)} — u to undo`);
  const i = rendered.indexOf(it);
  const next = rendered.slice(i + 1).find((x) => !x.decision) || rendered.slice(0, i).find((x) => !x.decision);
  if ($("#state-filter").value) {
    focusSha = next ? next.sha256 : "";
    draw();
  } else {
    updateCard(it);
    setFocus(next ? next.sha256 : sha);
  }
}

async function undo(sha) {
  let j;
  try {
    j = await call("POST", "/api/undo", { sha256: sha || "" });
  } catch (e) {
    toast("Nothing undone: " + e.message, true);
    return;
  }
  const it = byShaOf(j.sha256);
  if (!it) {
    await load();
    toast("Undid the decision on " + short(j.sha256));
    return;
  }
  const was = it.decision;
  it.decision = "";
  it.moved_to = "";
  focusSha = it.sha256;
  if (it.reason !== reason || !matches(it)) {
    if (!matches(it)) $("#state-filter").value = "";
    reason = it.reason;
    history.replaceState(null, "", "#" + encodeURIComponent(reason));
    draw();
  } else {
    updateCard(it);
    setFocus(it.sha256);
  }
  toast(`Undid ${was || "the decision"} on ${it.class} ${short(it.sha256)}`);
}

// --- viewer --------------------------------------------------------------

function openViewer() {
  const it = byShaOf(focusSha);
  if (!it) return;
  $("#viewer-img").src = "/image/" + it.sha256 + "?size=large";
  $("#viewer-caption").textContent = `${it.class} · ${it.reason} · score ${fmtScore(it.score)}` +
    (it.misfiled != null ? ` · misfiled ${fmtScore(it.misfiled)}/${fmtScore(it.misfiled_threshold)}` : "") +
    (it.offtopic != null ? ` · off-topic ${fmtScore(it.offtopic)}/${fmtScore(it.offtopic_threshold)}` : "") +
    (it.suggest ? ` · belongs to ${it.suggest}?` : "") +
    (it.decision ? ` · ${badgeText(it)}` : "") + ` · ${it.width}×${it.height}`;
  // A misfiled image is judged against both classes' references.
  const other = it.suggest || it.moved_to;
  $("#viewer-refs").replaceChildren(el("h3", {}, "References: " + it.class), ...refList(it.class, true),
    ...(other ? [el("h3", {}, "References: " + other), ...refList(other, true)] : []));
  $("#viewer").hidden = false;
}

function closeViewer() { $("#viewer").hidden = true; }

// --- keyboard ------------------------------------------------------------

function move(dx, dy) {
  const i = rendered.findIndex((it) => it.sha256 === focusSha);
  if (i < 0) return;
  if (dy === 0) {
    const j = Math.min(rendered.length - 1, Math.max(0, i + dx));
    setFocus(rendered[j].sha256);
    return;
  }
  // Up and down go to the card in the next row whose centre is nearest,
  // whatever the grid's width.
  const here = cardOf(focusSha).getBoundingClientRect();
  const cx = here.left + here.width / 2;
  let best = null, bestRow = Infinity, bestDx = Infinity;
  for (const it of rendered) {
    const r = cardOf(it.sha256).getBoundingClientRect();
    const row = dy > 0 ? r.top - here.top : here.top - r.top;
    if (row < 10) continue;
    const d = Math.abs(r.left + r.width / 2 - cx);
    if (row < bestRow - 10 || (Math.abs(row - bestRow) <= 10 && d < bestDx)) {
      best = it; bestRow = row; bestDx = d;
    }
  }
  if (best) setFocus(best.sha256);
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest("select, input, textarea")) return;
  if ($("#help").open) return;
  const viewer = !$("#viewer").hidden;
  switch (e.key) {
    case "ArrowRight": move(1, 0); break;
    case "ArrowLeft": move(-1, 0); break;
    case "ArrowDown": if (viewer) return; move(0, 1); break;
    case "ArrowUp": if (viewer) return; move(0, -1); break;
    case "k": case "K": decide(focusSha, "keep"); break;
    case "d": case "D": decide(focusSha, "discard"); break;
    case "m": case "M": decide(focusSha, "move"); break;
    case "u": case "U": undo(""); break;
    case " ": case "Enter":
      if (e.target.closest && e.target.closest("button")) return;
      viewer ? closeViewer() : openViewer();
      break;
    case "Escape": closeViewer(); break;
    case "?": $("#help").showModal(); break;
    default: {
      const n = Number(e.key);
      const rs = reasonsShown();
      if (!viewer && Number.isInteger(n) && n >= 1 && n <= 9 && n <= rs.length) selectReason(rs[n - 1]);
      else return;
    }
  }
  e.preventDefault();
});

// --- start ---------------------------------------------------------------

async function load() {
  try {
    data = await call("GET", "/api/state");
  } catch (e) {
    $("#main").replaceChildren(el("p", { class: "empty" }, "Cannot load the images: " + e.message));
    return;
  }
  drawClassFilter();
  const rs = reasonsShown();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (!rs.includes(reason)) reason = rs.includes(wanted) ? wanted : (rs[0] || "");
  draw();
  document.body.dataset.ready = "true";
}

// A filter hands the keyboard back to the page once chosen.
$("#class-filter").addEventListener("change", (e) => { e.target.blur(); focusSha = ""; draw(); });
$("#state-filter").addEventListener("change", (e) => { e.target.blur(); focusSha = ""; draw(); });
$("#undo-btn").addEventListener("click", () => undo(""));
$("#help-btn").addEventListener("click", () => $("#help").showModal());
$("#help-close").addEventListener("click", () => $("#help").close());
$("#viewer").addEventListener("click", (e) => { if (e.target.id === "viewer" || e.target.closest(".viewer-main")) closeViewer(); });
load();
