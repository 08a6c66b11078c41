// The review page: lays out the server's counts, reads the images of each
// list a page at a time as they come into view, draws only the cards on
// screen (and a margin), sends each decision at once, and moves the focus
// so a person can go through a reason with the keyboard alone. A quarantine
// of tens of thousands of images costs what one screen of them costs.
// Everything from the catalog is put in the page as text, never as markup,
// since class names and details come from the outside world.
"use strict";

const token = document.querySelector('meta[name="scour-token"]').content;
const $ = (sel) => document.querySelector(sel);

const PAGE = 100;        // images per request; lists are read in pages aligned to it
const MAX_PAGES = 40;    // pages kept in memory; the least recently drawn go first
const MARGIN = 1.0;      // screens of cards drawn above and below the visible one
// Images read ahead of the drawn ones, either way: a whole page, so that the
// next page is read while a screen and a page of cards are still to go.
const AHEAD = PAGE;
// Pictures are read once the page has been still this long (ms): a key
// held down, or a scroll, goes past rows whose pictures would cost more to
// read and decode than the next frame has time for.
const REST = 100;

// st is the server's layout: reasons, classes and, per reason, class and
// decision, how many images there are (groups).
let st = { reasons: [], classes: [], groups: [] };
let reason = "";
// view is the current reason's lists, one per class, in the order shown:
// {cls, n, key, sec, grid, from, to, cards: Map(index → element)}.
let view = [];
let geo = { cols: 1, cardH: 300, rowH: 314 };
let focus = { g: -1, i: -1 };
let gen = 0; // bumped at each redraw, so that late answers for an old view are dropped
// lists caches pages by list: key → {pages: Map(p → {items, next, used}), loading: Map(p → Promise)}.
const lists = new Map();
let tick = 0;
let firstCard = false;

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
function cmpText(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

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

// --- the lists -----------------------------------------------------------

function classFilter() { return $("#class-filter").value; }
function stateFilter() { return $("#state-filter").value; }

function stateMatches(decision, sf) {
  if (!sf) return true;
  if (sf === "undecided") return !decision;
  return decision === sf;
}

function listKey(r, cls, sf) { return JSON.stringify([r, cls, sf]); }

function listOf(key) {
  let l = lists.get(key);
  if (!l) { l = { pages: new Map(), loading: new Map(), epoch: 0 }; lists.set(key, l); }
  return l;
}

// itemAt is the image at index i of view group g, or undefined while its
// page is not read.
function itemAt(g, i) {
  const v = view[g];
  if (!v || i < 0 || i >= v.n) return undefined;
  const l = lists.get(v.key);
  const p = l && l.pages.get(Math.floor(i / PAGE));
  return p ? p.items[i % PAGE] : undefined;
}

// find is where the current view holds the image sha, if it has read it.
function find(sha) {
  for (let g = 0; g < view.length; g++) {
    const l = lists.get(view[g].key);
    if (!l) continue;
    for (const [p, page] of l.pages) {
      const k = page.items.findIndex((it) => it.sha256 === sha);
      if (k >= 0) return { g, i: p * PAGE + k, it: page.items[k] };
    }
  }
  return null;
}

// loadPage reads page p of view group g: after the previous page's last
// image when that page is here (keyset), else by offset.
function loadPage(g, p) {
  const v = view[g];
  const l = listOf(v.key);
  const held = l.pages.get(p);
  if (held && !held.stale) return Promise.resolve();
  if (l.loading.has(p)) return l.loading.get(p);
  const [r, cls, sf] = JSON.parse(v.key);
  const q = new URLSearchParams({ reason: r, class: cls, limit: String(PAGE) });
  if (sf) q.set("state", sf);
  const prev = l.pages.get(p - 1);
  if (p > 0 && prev && prev.next) q.set("after", prev.next);
  else if (p > 0) q.set("offset", String(p * PAGE));
  const key = v.key, epoch = l.epoch;
  const pr = call("GET", "/api/items?" + q).then((j) => {
    // Dropped or closed up meanwhile: the answer may predate a decision.
    if (lists.get(key) !== l || l.epoch !== epoch) return;
    l.pages.set(p, { items: j.items, next: j.next || "", used: ++tick });
    evict();
  }, (e) => {
    toast("Cannot read the images: " + e.message, true);
  }).finally(() => l.loading.delete(p));
  l.loading.set(p, pr);
  return pr;
}

// need reads the pages holding indexes from..to (exclusive) of group g and
// draws again when they come.
function need(g, from, to) {
  const v = view[g];
  from = Math.max(0, from); to = Math.min(v.n, to);
  const waits = [];
  for (let p = Math.floor(from / PAGE); p * PAGE < to; p++) {
    const l = listOf(v.key);
    const held = l.pages.get(p);
    if (held) held.used = ++tick;
    if (held && !held.stale) continue;
    const mine = gen;
    waits.push(loadPage(g, p).then(() => { if (gen === mine) scheduleRender(); }));
  }
  return Promise.all(waits);
}

// evict forgets the pages drawn longest ago once there are too many.
function evict() {
  let all = [];
  for (const [key, l] of lists) for (const [p, page] of l.pages) all.push({ key, p, used: page.used });
  if (all.length <= MAX_PAGES) return;
  all.sort((a, b) => a.used - b.used);
  const keep = new Set();
  for (const v of view) {
    for (let p = Math.floor(v.from / PAGE); p * PAGE < v.to; p++) keep.add(v.key + "\u0000" + p);
  }
  for (const x of all.slice(0, all.length - MAX_PAGES)) {
    if (keep.has(x.key + "\u0000" + x.p)) continue;
    lists.get(x.key).pages.delete(x.p);
  }
}

// dropLists forgets the lists a decision may have made stale: every list
// but the current view's (whose images the page updates itself), or all.
function dropLists(all) {
  const keepKeys = all ? new Set() : new Set(view.map((v) => v.key));
  for (const key of [...lists.keys()]) if (!keepKeys.has(key)) lists.delete(key);
}

// --- what is shown -------------------------------------------------------

function reasonsShown() {
  const present = new Set(st.groups.map((g) => g.reason));
  const order = st.reasons.filter((r) => present.has(r));
  for (const r of present) if (!order.includes(r)) order.push(r);
  return order;
}

function drawCounts() {
  const c = { todo: 0, keep: 0, discard: 0, move: 0 };
  for (const g of st.groups) c[g.decision || "todo"] += g.count;
  $("#counts").replaceChildren(
    el("span", { class: "pill" }, el("b", {}, c.todo), " to review"),
    el("span", { class: "pill keep" }, el("b", {}, c.keep), " kept"),
    el("span", { class: "pill discard" }, el("b", {}, c.discard), " discarded"),
    ...(c.move ? [el("span", { class: "pill move" }, el("b", {}, c.move), " moved")] : []),
  );
}

function drawTabs() {
  const cls = classFilter();
  const tabs = reasonsShown().map((r, i) => {
    let all = 0, todo = 0;
    for (const g of st.groups) {
      if (g.reason !== r || (cls && g.class !== cls)) continue;
      all += g.count;
      if (!g.decision) todo += g.count;
    }
    return el("button", {
      type: "button", role: "tab", class: "tab" + (todo === 0 ? " done" : ""), "data-reason": r,
      "aria-selected": r === reason ? "true" : "false", title: `${todo} of ${all} to review`,
      onclick: () => selectReason(r),
    }, i < 9 ? el("span", { class: "n" }, i + 1) : null, r, el("span", { class: "count" }, todo));
  });
  $("#tabs").replaceChildren(...tabs);
}

function drawClassFilter() {
  const sel = $("#class-filter");
  const keep = sel.value;
  const names = st.classes.map((c) => c.name);
  sel.replaceChildren(el("option", { value: "" }, "all classes"), ...names.map((n) => el("option", { value: n }, n)));
  sel.value = names.includes(keep) ? keep : "";
}

// viewGroups is the current reason's lists under the filters. Where clean
// scored the reason, the class holding the most doubtful image comes
// first; elsewhere the classes keep scour.yaml's order.
function viewGroups() {
  const cls = classFilter(), sf = stateFilter();
  const by = new Map();
  for (const g of st.groups) {
    if (g.reason !== reason || (cls && g.class !== cls) || !stateMatches(g.decision || "", sf)) continue;
    const e = by.get(g.class) || { cls: g.class, n: 0, scored: 0, doubt: -Infinity, offtopic: 0, misfiled: 0, suggested: 0 };
    e.n += g.count;
    e.scored += g.scored || 0;
    e.offtopic += g.offtopic || 0;
    e.misfiled += g.misfiled || 0;
    e.suggested += g.suggested || 0;
    e.doubt = Math.max(e.doubt, g.doubt || 0);
    by.set(g.class, e);
  }
  const out = [...by.values()].filter((e) => e.n > 0);
  const rank = new Map(st.classes.map((c, i) => [c.name, i]));
  if (out.some((e) => e.scored > 0)) out.sort((a, b) => b.doubt - a.doubt || cmpText(a.cls, b.cls));
  else out.sort((a, b) => (rank.get(a.cls) ?? 1e9) - (rank.get(b.cls) ?? 1e9) || cmpText(a.cls, b.cls));
  return out.map((e) => ({ ...e, key: listKey(reason, e.cls, sf), from: 0, to: 0, cards: new Map() }));
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

function refList(cls, large) {
  const c = st.classes.find((c) => c.name === cls);
  const refs = c ? c.references : [];
  if (refs.length === 0) return [el("p", { class: "missing" }, "No reference images for this class in scour.yaml.")];
  return refs.map((r) => r.url
    ? el("img", { src: r.url + (large ? "?size=large" : ""), alt: "reference: " + r.name, title: r.name, loading: "lazy" })
    : el("p", { class: "missing" }, `${r.name}: ${r.why}`));
}

function card(it, g, i, now) {
  const pic = el("div", { class: "pic", onclick: () => { setFocus(g, i); openViewer(); } },
    // The picture is read once the page rests (showPictures), or at once
    // for a card drawn again in place; decoded off the main thread either
    // way, into a box whose size does not depend on it.
    el("img", {
      decoding: "async", [now ? "src" : "data-src"]: "/image/" + it.sha256, alt: `${it.class} image ${short(it.sha256)}`,
      onerror: (e) => e.target.replaceWith(el("div", { class: "broken" }, "cannot be drawn (" + it.reason + ")")),
    }),
    it.copy ? el("div", { class: "copy", title: "the copy clean kept: " + it.copy },
      el("img", { decoding: "async", [now ? "src" : "data-src"]: "/image/" + it.copy, alt: "copy kept" })) : null,
  );
  const notes = [];
  if (it.detail && !it.copy && it.detail !== it.suggest) notes.push(it.detail);
  if (it.also && it.also.length) notes.push("also " + it.also.join(", "));
  const act = (verdict) => (e) => { e.stopPropagation(); setFocus(g, i); decide(verdict); };
  const suggestion = it.suggest && it.decision !== "move"
    ? el("div", { class: "suggest", title: "clean thinks it belongs to " + it.suggest }, "belongs to ", el("b", {}, it.suggest), "?")
    : null;
  return el("article", {
    class: "card", "data-sha": it.sha256, "data-decision": it.decision || null, "data-index": i,
    onclick: () => setFocus(g, i),
  },
    pic,
    el("span", { class: "badge" }, badgeText(it)),
    // The lines give way, never the picture or the buttons, in a card
    // taller than the list made room for.
    el("div", { class: "lines" },
      el("div", { class: "meta" },
        el("span", { class: "cls", title: it.class }, it.class),
        el("span", { class: "score", title: (it.method ? "method: " + it.method + " · " : "") + `${it.width}×${it.height}, ${Math.round(it.bytes / 1024)} KB` },
          // The reason's own view below says it on clean's common scale.
          ownDoubt(it) ? (it.reason === "off-topic" ? it.offtopic_method || "" : "") : "score " + fmtScore(it.score))),
      doubtLine("off-topic", it.offtopic, it.offtopic_threshold, it.offtopic_method),
      doubtLine("misfiled", it.misfiled, it.misfiled_threshold),
      suggestion,
      notes.length ? el("div", { class: "detail", title: notes.join(" · ") }, notes.join(" · ")) : null),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "keep", title: "Keep (k)", onclick: act("keep") }, "Keep", kbd("k")),
      el("button", { type: "button", class: "discard", title: "Discard (d)", onclick: act("discard") }, "Discard", kbd("d")),
      it.suggest ? el("button", { type: "button", class: "move", title: "Move to " + it.suggest + " (m)", onclick: act("move") }, "→ " + it.suggest, kbd("m")) : null,
      el("button", { type: "button", class: "undo", title: "Undo this decision", onclick: (e) => { e.stopPropagation(); setFocus(g, i); undo(it.sha256); } }, "↶ Undo")),
  );
}

function placeholder(g, i) {
  return el("article", { class: "card placeholder", "data-index": i, onclick: () => setFocus(g, i) }, el("div", { class: "pic" }));
}

// measure finds how many cards a row holds and how tall a card is: every
// card of the view is as tall as the tallest one can be, with the lines the
// counts say some card will have, so that where a row lies follows from its
// number alone.
function measure() {
  if (view.length === 0) return;
  const grid = view[0].grid;
  const main = $("#main");
  main.style.removeProperty("--card-h");
  const off = view.some((v) => v.offtopic > 0), mis = view.some((v) => v.misfiled > 0), move = view.some((v) => v.suggested > 0);
  const probe = card({ sha256: "0".repeat(64), class: "probe", reason: "probe", score: 0, width: 1, height: 1, bytes: 0,
    offtopic: off ? 1 : null, offtopic_threshold: 1, misfiled: mis ? 1 : null, misfiled_threshold: 1,
    suggest: move ? "probe" : "", detail: "a detail" }, 0, 0);
  probe.style.visibility = "hidden";
  const keep = [...grid.children];
  grid.replaceChildren(probe);
  const cs = getComputedStyle(grid);
  const cols = Math.max(1, cs.gridTemplateColumns.split(" ").filter((s) => s && s !== "none").length);
  const cardH = Math.ceil(probe.getBoundingClientRect().height);
  grid.replaceChildren(...keep);
  const gap = parseFloat(cs.rowGap) || 0;
  geo = { cols, cardH, rowH: cardH + gap };
  main.style.setProperty("--card-h", cardH + "px");
  for (const v of view) {
    const rows = Math.ceil(v.n / cols);
    v.grid.style.height = Math.max(0, rows * geo.rowH - gap) + "px";
    v.from = v.to = 0;
    v.cards.clear();
    v.grid.replaceChildren();
  }
}

function draw() {
  gen++;
  drawCounts();
  drawTabs();
  const main = $("#main");
  if (st.groups.length === 0) {
    view = [];
    main.replaceChildren(el("p", { class: "empty" }, "Nothing is in quarantine. Run ", el("code", {}, "scour clean"), " first, then come back."));
    return;
  }
  view = viewGroups();
  if (view.length === 0) {
    main.replaceChildren(el("p", { class: "empty" }, "No image here matches the filters."));
    return;
  }
  view.forEach((v, g) => {
    v.grid = el("div", { class: "grid" });
    v.sec = el("section", { class: "group", "data-class": v.cls, "data-g": g },
      el("aside", { class: "refs" },
        el("h2", {}, v.cls),
        el("p", { class: "sub" }, `${v.n} image${v.n === 1 ? "" : "s"} · reference images`),
        el("div", { class: "list" }, refList(v.cls, false))),
      v.grid);
  });
  main.replaceChildren(...view.map((v) => v.sec));
  measure();
  if (focus.g >= view.length) focus = { g: -1, i: -1 };
  render();
}

let renderQueued = false;
let restTimer = 0;
let lastMove = -Infinity; // when a key or a scroll last moved the view (performance.now())

function moved() { lastMove = performance.now(); }
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

// render draws the cards of the rows on screen and a margin around them,
// reusing the cards already drawn, and reads the pages they need.
function render() {
  if (view.length === 0) return;
  const margin = innerHeight * MARGIN;
  const top = scrollY - margin, bottom = scrollY + innerHeight + margin;
  const tops = view.map((v) => v.grid.getBoundingClientRect().top + scrollY);
  const { cols, rowH } = geo;
  // Pages are read AHEAD images beyond the cards drawn, in the next class's
  // list as well as in this one.
  const ahead = Math.ceil(AHEAD / cols) * rowH;
  view.forEach((v, g) => {
    const rows = Math.ceil(v.n / cols);
    const row = (y) => Math.min(rows, Math.max(0, Math.floor((y - tops[g]) / rowH)));
    const r0 = row(top), r1 = Math.min(rows, Math.max(0, Math.ceil((bottom - tops[g]) / rowH)));
    const from = r0 < r1 ? r0 * cols : 0, to = r0 < r1 ? Math.min(v.n, r1 * cols) : 0;
    const lo = top - ahead, hi = bottom + ahead;
    if (hi > tops[g] && lo < tops[g] + rows * rowH) need(g, row(lo) * cols, (row(hi) + 1) * cols);
    const cards = new Map();
    let changed = from !== v.from || to !== v.to;
    for (let i = from; i < to; i++) {
      const it = itemAt(g, i);
      let c = v.cards.get(i);
      if (!c || c._item !== it) {
        c = it ? card(it, g, i) : placeholder(g, i);
        c._item = it;
        changed = true;
      }
      if (focus.g === g && focus.i === i) c.classList.add("focus");
      else c.classList.remove("focus");
      cards.set(i, c);
    }
    v.from = from; v.to = to; v.cards = cards;
    if (changed) {
      v.grid.style.paddingTop = (from / cols) * rowH + "px";
      // The cards that stay are not touched: a row scrolled in adds a
      // row's cards, not the whole window's.
      const stay = new Set(cards.values());
      for (const c of [...v.grid.children]) if (!stay.has(c)) drop(c);
      let at = v.grid.firstChild;
      for (const c of cards.values()) {
        if (c === at) at = at.nextSibling;
        else v.grid.insertBefore(c, at);
      }
    }
    if (!firstCard && [...cards.values()].some((c) => c._item)) {
      firstCard = true;
      performance.mark("scour-first-card");
    }
  });
  // Cards drawn with the view still (a page read, a decision) show their
  // pictures at once.
  clearTimeout(restTimer);
  const still = performance.now() - lastMove;
  if (still >= REST) showPictures();
  else restTimer = setTimeout(showPictures, REST - still);
}

// showPictures reads the pictures of the cards drawn, those on screen
// first.
function showPictures() {
  const waiting = [];
  const mid = innerHeight / 2;
  for (const img of document.querySelectorAll("main .grid img[data-src]")) {
    const r = img.getBoundingClientRect();
    waiting.push({ img, far: Math.abs(r.top + r.height / 2 - mid) });
  }
  waiting.sort((a, b) => a.far - b.far);
  for (const { img } of waiting) {
    img.src = img.dataset.src;
    img.removeAttribute("data-src");
  }
}

// drop takes a card off the page and stops reading its pictures: a card
// scrolled past quickly should not hold up the ones on screen.
function drop(c) {
  for (const img of c.querySelectorAll("img")) img.removeAttribute("src");
  c.remove();
}

function cardAt(g, i) {
  const v = view[g];
  return v ? v.cards.get(i) : undefined;
}

function focusedItem() { return itemAt(focus.g, focus.i); }

// reveal scrolls the card at g, i into view, below the sticky bar, and
// draws what is then on screen.
function reveal(g, i) {
  moved();
  const v = view[g];
  const bar = $(".bar").getBoundingClientRect().height;
  const gridTop = v.grid.getBoundingClientRect().top + scrollY;
  const cardTop = gridTop + Math.floor(i / geo.cols) * geo.rowH;
  const lo = cardTop - bar - 12, hi = cardTop + geo.cardH + 70 - innerHeight;
  if (scrollY > lo) window.scrollTo(0, lo);
  else if (scrollY < hi) window.scrollTo(0, hi);
  render();
}

function setFocus(g, i, quiet) {
  if (!view[g] || i < 0 || i >= view[g].n) return;
  const old = cardAt(focus.g, focus.i);
  if (old) old.classList.remove("focus");
  focus = { g, i };
  if (!quiet) reveal(g, i);
  const c = cardAt(g, i);
  if (c) c.classList.add("focus");
  if (!$("#viewer").hidden) openViewer();
}

// focusFirst puts the focus on the first image to review in the view, or
// on its first image.
async function focusFirst() {
  const mine = gen;
  const sf = stateFilter();
  let g = 0;
  if (!sf || sf === "undecided") {
    const todo = (v) => st.groups.some((x) => x.reason === reason && x.class === v.cls && !x.decision && x.count > 0);
    g = Math.max(0, view.findIndex(todo));
  }
  if (!view[g]) return;
  // At once, so that a key pressed while the lists are read has a focus
  // to move; the first image to review, once known, takes it unless a key
  // moved it meanwhile.
  setFocus(g, 0, true);
  if (sf) return;
  const i = await firstUndecided(g);
  if (gen !== mine || focus.g !== g || focus.i !== 0 || i === 0) return;
  setFocus(g, i, i < geo.cols * 2);
}

// firstUndecided is the index of the first undecided image of view group
// g: from its first page, which the page reads anyway, when it has one;
// else from the server.
async function firstUndecided(g) {
  const v = view[g];
  await need(g, 0, PAGE);
  if (view[g] !== v) return 0;
  for (let i = 0; i < v.n; i++) {
    const it = itemAt(g, i);
    if (!it) break;
    if (!it.decision) return i;
  }
  try {
    const [r, cls] = JSON.parse(v.key);
    const first = await call("GET", "/api/items?" + new URLSearchParams({ reason: r, class: cls, state: "undecided", limit: "1" }));
    if (first.items.length === 0) return 0;
    const at = await call("GET", "/api/locate?" + new URLSearchParams({ sha: first.items[0].sha256 }));
    return Math.max(0, at.index);
  } catch (e) {
    toast("Cannot find the first image to review: " + e.message, true);
    return 0;
  }
}

function selectReason(r) {
  if (r === reason) return;
  reason = r;
  history.replaceState(null, "", "#" + encodeURIComponent(r));
  focus = { g: -1, i: -1 };
  window.scrollTo(0, 0);
  draw();
  focusFirst();
}

// bump moves one image from one decision to another in the counts.
function bump(it, from, to) {
  const add = (decision, n) => {
    let g = st.groups.find((x) => x.reason === it.reason && x.class === it.class && (x.decision || "") === decision);
    if (!g) { g = { reason: it.reason, class: it.class, decision, count: 0 }; st.groups.push(g); }
    g.count += n;
  };
  add(from || "", -1);
  add(to || "", 1);
}

async function refreshState() {
  st = await call("GET", "/api/state");
  drawClassFilter();
}

// redrawCard draws an image again after its decision changed.
function redrawCard(g, i) {
  const v = view[g];
  const c = v && v.cards.get(i);
  if (!c) return;
  const it = itemAt(g, i);
  const n = card(it, g, i, true);
  n._item = it;
  if (focus.g === g && focus.i === i) n.classList.add("focus");
  c.replaceWith(n);
  v.cards.set(i, n);
}

// leave takes the image at index i out of view group g, as the server's
// list now leaves it out, and returns how many images the group still
// has. The pages held close up rather than being read again: each gives
// its first image to the page before it. Their cursors no longer name
// their last image, so the pages after them are read by offset; the last
// page held, one image short, is drawn as it is and read again.
function leave(g, i) {
  const v = view[g];
  v.n--;
  const l = lists.get(v.key);
  let p = Math.floor(i / PAGE), page = l && l.pages.get(p);
  if (l) l.epoch++;
  if (page) {
    page.items.splice(i % PAGE, 1);
    for (;;) {
      page.next = "";
      const after = l.pages.get(p + 1);
      if (!after) break;
      page.items.push(after.items.shift());
      page = after;
      p++;
    }
    if (page.items.length < Math.min(PAGE, v.n - p * PAGE)) page.stale = true;
  }
  if (v.n === 0) return 0;
  // The cards from i on show the image after the one they showed.
  for (const [j, c] of v.cards) if (j >= i) { drop(c); v.cards.delete(j); }
  v.to = Math.min(v.to, i);
  v.grid.style.height = Math.max(0, Math.ceil(v.n / geo.cols) * geo.rowH - (geo.rowH - geo.cardH)) + "px";
  v.sec.querySelector(".sub").textContent = `${v.n} image${v.n === 1 ? "" : "s"} · reference images`;
  return v.n;
}

// nextToReview is where the focus goes after a decision: the next image
// not yet decided, or, past the end, the first one before; an image whose
// page is not read yet counts as one to review.
function nextToReview(g, i) {
  const todo = (v) => st.groups.some((x) => x.reason === reason && x.class === v.cls && !x.decision && x.count > 0);
  const scan = (g0, i0, g1, i1) => {
    for (let gg = g0; gg <= g1 && gg < view.length; gg++) {
      if (!todo(view[gg])) continue;
      const start = gg === g0 ? i0 : 0, end = gg === g1 ? i1 : view[gg].n;
      for (let j = start; j < end; j++) {
        const it = itemAt(gg, j);
        if (!it || !it.decision) return { g: gg, i: j };
      }
    }
    return null;
  };
  return scan(g, i + 1, view.length - 1, Infinity) || scan(0, 0, g, i);
}

// --- decisions -----------------------------------------------------------

async function decide(verdict) {
  const { g, i } = focus;
  const it = itemAt(g, i);
  if (!it) return;
  if (it.decision === verdict) return;
  const body = { sha256: it.sha256, decision: verdict };
  if (verdict === "move") {
    if (!it.suggest) { toast("Clean suggests no other class for this image", true); return; }
    body.class = it.suggest;
  }
  const c = cardAt(g, i);
  if (c) c.classList.add("busy");
  try {
    await call("POST", "/api/decide", body);
  } catch (e) {
    if (c) c.classList.remove("busy");
    toast("Not saved: " + e.message, true);
    return;
  }
  const was = it.decision;
  it.decision = verdict;
  it.moved_to = verdict === "move" ? body.class : "";
  const done = verdict === "move" ? "Moved to " + body.class + ":" : verdict === "keep" ? "Kept" : "Discarded";
  toast(`${done} ${it.class} ${short(it.sha256)} — u to undo`);
  bump(it, was, verdict);
  dropLists(false);
  drawCounts();
  drawTabs();
  if (stateFilter()) {
    // The image leaves this list: the one after it takes its place.
    if (leave(g, i) > 0) {
      render();
      setFocus(g, Math.min(i, view[g].n - 1));
    } else {
      draw();
      if (view.length) setFocus(Math.min(g, view.length - 1), 0);
    }
    return;
  }
  redrawCard(g, i);
  const next = nextToReview(g, i);
  if (next) setFocus(next.g, next.i);
}

// reload reads the counts again and redraws, then focuses where place says.
async function reload(place) {
  try {
    await refreshState();
  } catch (e) {
    toast("Cannot read the quarantine: " + e.message, true);
    return;
  }
  dropLists(true);
  draw();
  const at = place();
  if (view[at.g]) setFocus(at.g, Math.max(0, at.i));
}

async function undo(sha) {
  let j;
  try {
    j = await call("POST", "/api/undo", { sha256: sha || "" });
  } catch (e) {
    toast("Nothing undone: " + e.message, true);
    return;
  }
  const here = stateFilter() ? null : find(j.sha256);
  if (here) {
    const was = here.it.decision;
    bump(here.it, was, "");
    here.it.decision = "";
    here.it.moved_to = "";
    dropLists(false);
    drawCounts();
    drawTabs();
    redrawCard(here.g, here.i);
    setFocus(here.g, here.i);
    toast(`Undid ${was || "the decision"} on ${here.it.class} ${short(j.sha256)}`);
    return;
  }
  // The image is elsewhere: in another reason, or hidden by a filter.
  const sf = stateFilter() === "undecided" ? "undecided" : "";
  let at;
  try {
    at = await call("GET", "/api/locate?" + new URLSearchParams({ sha: j.sha256, state: sf }));
  } catch (e) {
    toast("Undid the decision on " + short(j.sha256));
    await reload(() => ({ g: 0, i: 0 }));
    return;
  }
  $("#state-filter").value = sf;
  if (classFilter() && classFilter() !== at.item.class) $("#class-filter").value = "";
  reason = at.item.reason;
  history.replaceState(null, "", "#" + encodeURIComponent(reason));
  await reload(() => ({ g: view.findIndex((v) => v.cls === at.item.class), i: at.index }));
  toast(`Undid the decision on ${at.item.class} ${short(j.sha256)}`);
}

// --- viewer --------------------------------------------------------------

function openViewer() {
  const it = focusedItem();
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

// move goes to the next or previous image (dx), or to the card in the next
// or previous row nearest the same column (dy), across the classes' grids.
function move(dx, dy) {
  let { g, i } = focus;
  if (!view[g]) return;
  const cols = geo.cols;
  if (dy === 0) {
    i += dx;
    while (i >= view[g].n && g < view.length - 1) { i -= view[g].n; g++; }
    while (i < 0 && g > 0) { g--; i += view[g].n; }
    setFocus(g, Math.min(view[g].n - 1, Math.max(0, i)));
    return;
  }
  const col = i % cols;
  if (dy > 0) {
    const rows = Math.ceil(view[g].n / cols);
    if (Math.floor(i / cols) + 1 < rows) setFocus(g, Math.min(i + cols, view[g].n - 1));
    else if (g + 1 < view.length) setFocus(g + 1, Math.min(col, view[g + 1].n - 1));
    return;
  }
  if (i >= cols) setFocus(g, i - cols);
  else if (g > 0) {
    const n = view[g - 1].n, last = Math.floor((n - 1) / cols) * cols;
    setFocus(g - 1, Math.min(last + col, n - 1));
  }
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
    case "k": case "K": decide("keep"); break;
    case "d": case "D": decide("discard"); break;
    case "m": case "M": decide("move"); break;
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
    await refreshState();
  } catch (e) {
    $("#main").replaceChildren(el("p", { class: "empty" }, "Cannot load the images: " + e.message));
    return;
  }
  const rs = reasonsShown();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (!rs.includes(reason)) reason = rs.includes(wanted) ? wanted : (rs[0] || "");
  draw();
  // The first screen's pages, then the focus, then the page says it is ready.
  await Promise.all(view.map((v, g) => v.to > v.from ? need(g, v.from, v.to) : null));
  render();
  await focusFirst();
  document.body.dataset.ready = "true";
}

function refilter(e) {
  e.target.blur();
  focus = { g: -1, i: -1 };
  window.scrollTo(0, 0);
  draw();
  focusFirst();
}

// A filter hands the keyboard back to the page once chosen.
$("#class-filter").addEventListener("change", refilter);
$("#state-filter").addEventListener("change", refilter);
$("#undo-btn").addEventListener("click", () => undo(""));
$("#help-btn").addEventListener("click", () => $("#help").showModal());
$("#help-close").addEventListener("click", () => $("#help").close());
$("#viewer").addEventListener("click", (e) => { if (e.target.id === "viewer" || e.target.closest(".viewer-main")) closeViewer(); });
window.addEventListener("scroll", () => { moved(); scheduleRender(); }, { passive: true });
window.addEventListener("resize", () => { if (view.length) { measure(); render(); } });
load();
