// Watchkeeper console: the board, the clocks and a case, kept live by Server-Sent Events.
// No framework and no build step. Countdowns tick here from deadlines; the server pushes changes.
"use strict";

const state = {
  me: null, alerts: new Map(), children: [], silences: [], view: "board", caseId: null,
  fresh: new Map(),  // alert id -> when it arrived live (highlighted for a while)
};
const CLOSED = ["satisfied", "resolved", "closed", "retracted", "superseded"];
const FRESH_MS = 60000;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function left(deadline) {
  const ms = new Date(deadline) - Date.now();
  const s = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const text = (h ? `${h}h ` : "") + (h || m ? `${m}m ` : "") + `${sec}s`;
  return ms >= 0 ? `${text} left` : `${text} overdue`;
}

function countdown(deadline) {
  const span = el("span", { class: "countdown", "data-deadline": deadline }, left(deadline));
  if (new Date(deadline) < Date.now()) span.classList.add("over");
  return span;
}

// People read London local time with the zone shown (GMT or BST), wherever the browser is.
const LONDON = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London", weekday: "short", day: "2-digit", month: "short", year: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
function local(t) {
  return LONDON.format(new Date(t));
}

async function api(path, options = {}) {
  const reply = await fetch(path, { credentials: "same-origin", ...options });
  if (reply.status === 401) { showSignIn(); throw new Error("signed out"); }
  return reply;
}

// ------------------------------------------------------------------ views
function show(view) {
  for (const id of ["signin", "board", "clocks", "silences", "case"]) $(id).hidden = id !== view;
  for (const nav of ["board", "clocks", "silences"]) {
    if (nav === view) $(`nav-${nav}`).setAttribute("aria-current", "page");
    else $(`nav-${nav}`).removeAttribute("aria-current");
  }
}

function openAlerts() {
  return [...state.alerts.values()].filter((a) => !CLOSED.includes(a.state));
}

// Whom a case is about: the clocks view knows the child of every case with a running clock.
function childOf(a) {
  for (const g of state.children) if (g.cases.some((c) => c.case === a.case)) return g.child;
  return a.child || a.case;
}

function filtered() {
  const f = new FormData($("filters"));
  const area = (f.get("area") || "").trim().toLowerCase();
  const q = (f.get("q") || "").trim().toLowerCase();
  return openAlerts().filter((a) =>
    (!f.get("domain") || a.domain === f.get("domain")) &&
    (!area || (a.area || "").toLowerCase().includes(area)) &&
    (!q || a.case.toLowerCase().includes(q) || childOf(a).toLowerCase().includes(q)) &&
    (!f.get("severity") || a.severity === f.get("severity")));
}

// The tab says how many alerts are open, so a new one is seen from another tab.
function updateTitle() {
  const open = openAlerts().length;
  document.title = open ? `(${open}) Watchkeeper console` : "Watchkeeper console";
}

// A short tone for a new breach, only if this browser chose it (off by default).
function chime() {
  if (localStorage.getItem("wk-sound") !== "on") return;
  try {
    const audio = new AudioContext(), tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.value = 880; gain.gain.value = 0.15;
    tone.connect(gain).connect(audio.destination);
    tone.start(); tone.stop(audio.currentTime + 0.35);
  } catch (e) { /* no audio: the title and the highlight still say it */ }
}

const RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
function urgency(a, b) {
  return (a.stage !== "breach") - (b.stage !== "breach") || RANK[a.severity] - RANK[b.severity] ||
    new Date(a.deadline) - new Date(b.deadline);
}

async function loadDeliveries() {
  const failing = await (await api("/console/api/deliveries")).json();
  const box = $("deliveries");
  box.replaceChildren(...failing.map((d) => el("p", {},
    `Pages to ${d.receiver} are not getting through: ${d.pending} waiting since ${local(d.oldest)} (London). `,
    "Watchkeeper keeps retrying; until then, reach the people on that channel another way.")));
  box.hidden = failing.length === 0;
}

function alertCard(a) {
  const ack = el("button", { type: "button", class: "primary" }, "Acknowledge");
  ack.dataset.alert = a.alert_id;
  ack.disabled = a.state !== "raised" || !state.me || state.me.access === "viewer";
  ack.addEventListener("click", () => acknowledge(a.alert_id));
  const caseLink = el("a", { href: `#case/${encodeURIComponent(a.case)}` }, a.case);
  const fresh = state.fresh.has(a.alert_id) && Date.now() - state.fresh.get(a.alert_id) < FRESH_MS;
  return el("li", { class: `card ${a.stage}${fresh ? " new" : ""}`, "data-alert": a.alert_id },
    el("h3", {}, `${a.stage === "breach" ? "BREACH" : "Warning"}: ${a.rule_title}`, fresh ? el("span", { class: "new-tag" }, " new") : ""),
    el("p", { class: "meta" }, "Case ", caseLink, a.area ? ` · ${a.area}` : "", ` · ${a.severity} · `,
      el("span", { class: "state", "data-state": a.state }, a.state),
      a.acked_by ? ` by ${a.acked_by}${a.acked_at ? " at " + local(a.acked_at) : ""}` : "",
      a.historical ? el("span", { class: "historical", title: "raised from history: nobody was paged" }, " · historical") : "",
      a.held_by ? el("span", { class: "held" }, ` · pages held by silence ${a.held_by.slice(0, 8)} until ${local(a.held_until)}`) : ""),
    a.immediate
      ? el("p", {}, "Recorded ", local(a.deadline))
      : el("p", {}, "Deadline ", local(a.deadline), " · ", countdown(a.deadline)),
    el("p", { class: "meta" }, "Raised ", local(a.raised_at)),
    el("p", { class: "reason" }, a.reason),
    el("p", {}, el("strong", {}, "Do now: "), a.action),
    ack);
}

function renderBoard() {
  const alerts = filtered().sort(urgency);
  const groups = new Map();  // child -> alerts, in urgency order: the first group is the most urgent
  for (const a of alerts) {
    const child = childOf(a);
    if (!groups.has(child)) groups.set(child, []);
    groups.get(child).push(a);
  }
  $("alerts").replaceChildren(...[...groups].map(([child, list]) => {
    const breaches = list.filter((a) => a.stage === "breach").length;
    return el("section", { class: "child-group", "data-child": child },
      el("h3", { class: "child" }, `Child ${child}`,
        el("span", { class: "meta" }, ` · ${list.length} open${breaches ? `, ${breaches} in breach` : ""}`)),
      el("ol", { class: "cards" }, ...list.map(alertCard)));
  }));
  const all = openAlerts(), hidden = all.length - alerts.length;
  const hiddenBreaches = all.filter((a) => a.stage === "breach").length - alerts.filter((a) => a.stage === "breach").length;
  $("hidden-by-filters").hidden = hidden === 0;
  $("hidden-by-filters").firstElementChild.textContent = hidden === 0 ? "" :
    `${hidden} open alert${hidden === 1 ? "" : "s"} hidden by the filters` +
    (hiddenBreaches ? `, ${hiddenBreaches} of them in breach. ` : ". ");
  $("no-alerts").hidden = alerts.length > 0 || hidden > 0;
  updateTitle();
}

function renderClocks() {
  $("children").replaceChildren(...state.children.map((g) => el("li", { class: "card" },
    el("h3", {}, `Child ${g.child}`),
    ...g.cases.map((c) => el("div", {},
      el("p", { class: "meta" }, "Case ", el("a", { href: `#case/${encodeURIComponent(c.case)}` }, c.case),
        ` · ${c.domain}${c.area ? " · " + c.area : ""}${c.age_band ? " · age " + c.age_band : ""}`),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Clock"), el("th", {}, "Deadline"),
        el("th", {}, "Time left"), el("th", {}, "Progress"))),
      el("tbody", {}, ...c.clocks.map((k) => {
        const total = new Date(k.deadline) - new Date(k.started_at);
        const bar = el("progress", { max: 100, value: 0 });
        bar.dataset.start = k.started_at; bar.dataset.deadline = k.deadline; bar.dataset.total = total;
        bar.setAttribute("aria-label", `${k.title}: time used`);
        return el("tr", {}, el("td", {}, clockTitle(k)),
          el("td", {}, local(k.deadline)), el("td", {}, countdown(k.deadline)), el("td", {}, bar));
      }))))))));
  $("no-clocks").hidden = state.children.length > 0;
  tick();
}

// A running clock reads what is due; only a clock past its deadline says overdue.
function clockTitle(k) {
  const over = new Date(k.deadline) < Date.now();
  return k.title + (k.status === "paused" ? " (paused)" : "") + (over ? " (overdue)" : "");
}

// The case page is where an inspector acts: clocks, then open alerts to acknowledge, then what
// happened in plain words, then the rules and the alerts already over.
async function renderCase(id) {
  const reply = await api(`/console/api/cases/${encodeURIComponent(id)}`);
  $("case-title").textContent = `Case ${id}`;
  if (reply.status === 404) { $("case-body").replaceChildren(el("p", {}, "This case is not on the board.")); return; }
  const data = await reply.json();
  const parts = [], c = data.case;
  if (c) {
    $("case-title").textContent = `Case ${id} · child ${c.child}${c.age_band ? " · age " + c.age_band : ""}${c.area ? " · " + c.area : ""}`;
    parts.push(el("h3", {}, "Running clocks"), c.clocks.length ? el("table", { class: "case-clocks" },
      el("thead", {}, el("tr", {}, el("th", {}, "Clock"), el("th", {}, "Deadline"), el("th", {}, "Time left"))),
      el("tbody", {}, ...c.clocks.map((k) => el("tr", {}, el("td", {}, clockTitle(k)), el("td", {}, local(k.deadline)),
        el("td", {}, countdown(k.deadline)))))) : el("p", {}, "No clock is running."));
  }
  const open = data.alerts.filter((a) => !CLOSED.includes(a.state));
  parts.push(el("h3", {}, "Open alerts"), open.length ? el("ol", { class: "cards" }, ...open.map(alertCard)) : el("p", {}, "None open."));
  if (c) {
    parts.push(el("h3", {}, "What happened"), el("table", { class: "timeline" },
      el("thead", {}, el("tr", {}, el("th", {}, "What"), el("th", {}, "Happened"), el("th", {}, "Recorded"))),
      el("tbody", {}, ...c.timeline.map((e) => el("tr", { class: e.late || e.out_of_order ? "late-row" : "" },
        el("td", { title: e.type }, (e.label || e.type) + (e.detail ? ` (${e.detail})` : "")),
        el("td", {}, local(e.time)),
        el("td", { class: e.late || e.out_of_order ? "late" : "" }, local(e.recordedtime),
          e.late ? " (entered late)" : "", e.out_of_order ? " (entered out of order)" : ""))))));
    parts.push(el("h3", {}, "Rules"), ...Object.entries(c.rules).map(([, r]) =>
      el("div", { class: "card" }, el("strong", {}, r.title), el("p", {}, r.explanation),
        el("p", { class: "meta" }, `Legal basis: ${r.legal_basis}`))));
  }
  parts.push(el("h3", {}, "Every alert of this case, with its history"), el("ol", { class: "cards" }, ...data.alerts.map((a) =>
    el("li", { class: `card ${a.stage}` }, el("strong", {}, `${a.stage}: ${a.rule_title} (${a.state})`),
      el("p", { class: "meta" }, `Legal basis (${(a.grade || "").replace("_", " ")}): ${a.legal_basis}`),
      el("p", { class: "reason" }, a.reason),
      el("ul", {}, ...a.history.map((t) => el("li", {}, `${local(t.at)} ${t.state} by ${t.by}: ${t.reason}`)))))));
  $("case-body").replaceChildren(...parts);
}

// ------------------------------------------------------------------ silences
const SILENCE_STATUS = { active: "Active", pending: "Scheduled", ended: "Ended" };

function describeMatcher(m) {
  return [["rules", m.rules], ["areas", m.areas], ["domains", m.domains]]
    .filter(([, v]) => v && v.length).map(([k, v]) => `${k} ${v.join(", ")}`).join("; ");
}

async function loadSilences() {
  state.silences = await (await api("/console/api/silences")).json();
}

function renderSilences() {
  const admin = state.me && state.me.access === "admin";
  $("silence-form").hidden = !admin;
  const held = (id) => [...state.alerts.values()].filter((a) => a.held_by === id).length;
  $("silence-list").replaceChildren(...state.silences.map((s) => {
    const until = s.ended_at && s.ended_at < s.ends_at ? s.ended_at : s.ends_at;
    const card = el("li", { class: `card silence ${s.status}`, "data-silence": s.silence_id },
      el("h3", {}, `${SILENCE_STATUS[s.status]}: ${describeMatcher(s.matcher)}`),
      el("p", {}, `From ${local(s.starts_at)} to ${local(until)}`),
      el("p", { class: "meta" }, `Set by ${s.created_by}: ${s.reason}`,
        s.ended_by ? ` · ended early by ${s.ended_by}` : "",
        s.status === "active" ? ` · holding the pages of ${held(s.silence_id)} open alert(s)` : ""));
    if (admin && s.status !== "ended") {
      const end = el("button", { type: "button" }, "End now");
      end.addEventListener("click", () => endSilence(s.silence_id));
      card.append(end);
    }
    return card;
  }));
  $("no-silences").hidden = state.silences.length > 0;
}

// A datetime-local value read as London wall time, whatever the browser's zone.
function londonToUtc(value) {
  const [day, time] = value.split("T");
  const [y, mo, d] = day.split("-").map(Number), [h, mi] = time.split(":").map(Number);
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/London", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
  const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
  return new Date(guess - (shown - guess)).toISOString();
}

async function setSilence(event) {
  event.preventDefault();
  const f = new FormData($("silence-form"));
  const list = (name) => (f.get(name) || "").split(",").map((v) => v.trim()).filter(Boolean);
  const body = { rules: list("rules"), areas: list("areas"), domains: list("domains"),
    duration: f.get("duration"), reason: f.get("reason") };
  if (f.get("starts_at")) body.starts_at = londonToUtc(f.get("starts_at"));
  const reply = await api("/console/api/silences", {
    method: "POST", headers: { "Content-Type": "application/json", "X-Watchkeeper": "console" }, body: JSON.stringify(body),
  });
  $("silence-error").textContent = reply.status === 201 ? "" : `Not set: ${(await reply.json()).error}`;
  if (reply.status === 201) { $("silence-form").reset(); await loadSilences(); renderSilences(); }
}

async function endSilence(id) {
  if (!confirm("End this silence now? Every open alert it holds is notified at once.")) return;
  const reply = await api(`/console/api/silences/${id}/end`, { method: "POST", headers: { "X-Watchkeeper": "console" } });
  if (reply.status !== 200) alert(`Not ended: ${(await reply.json()).error}`);
  await loadSilences(); renderSilences();
}

function tick() {
  for (const span of document.querySelectorAll(".countdown")) {
    span.textContent = left(span.dataset.deadline);
    span.classList.toggle("over", new Date(span.dataset.deadline) < Date.now());
  }
  for (const bar of document.querySelectorAll("progress[data-total]")) {
    const used = Date.now() - new Date(bar.dataset.start);
    bar.value = Math.max(0, Math.min(100, (100 * used) / Number(bar.dataset.total)));
  }
}

// ------------------------------------------------------------------ actions
function acknowledge(alertId) {
  const dialog = $("ack-dialog");
  $("ack-note").value = "";
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    const reply = await api(`/console/api/alerts/${alertId}/ack`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Watchkeeper": "console" },
      body: JSON.stringify({ note: $("ack-note").value }),
    });
    if (reply.status !== 202) alert(`Not acknowledged: ${(await reply.json()).error}`);
  };
  dialog.showModal();
}

function showSignIn() {
  state.me = null;
  $("whoami").textContent = "";
  $("signout").hidden = true;
  if (state.source) { state.source.close(); state.source = null; }
  show("signin");
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const reply = await fetch("/console/login", {
    method: "POST", headers: { "X-Watchkeeper": "console" }, body: new URLSearchParams({ token: $("token").value }),
  });
  if (reply.status === 429) { $("signin-error").textContent = "Too many failed attempts. Wait a minute and try again."; return; }
  if (reply.status !== 200) { $("signin-error").textContent = "That token was not accepted."; return; }
  $("token").value = "";
  await start();
}

// ------------------------------------------------------------------ live data
async function load() {
  const [alerts, clocks] = await Promise.all([api("/console/api/board"), api("/console/api/clocks")]);
  state.alerts = new Map((await alerts.json()).map((a) => [a.alert_id, a]));
  state.children = await clocks.json();
  await loadSilences();
  updateTitle();
}

async function signOut() {
  await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: { "X-Watchkeeper": "console" } });
  showSignIn();
}

function listen() {
  const source = new EventSource("/console/api/stream");
  state.source = source;
  source.addEventListener("hello", async () => {
    $("live").textContent = "live"; $("live").classList.add("on");
    await load(); route(); await loadDeliveries();
  });
  source.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    const known = state.alerts.has(a.alert_id);
    state.alerts.set(a.alert_id, a);
    if (!known && !CLOSED.includes(a.state)) {
      state.fresh.set(a.alert_id, Date.now());
      if (a.stage === "breach") chime();
    }
    updateTitle();
    refresh();
  });
  const reloadClocks = async () => { state.children = await (await api("/console/api/clocks")).json(); refresh(); };
  source.addEventListener("case", reloadClocks);
  source.addEventListener("delivery", loadDeliveries);
  source.addEventListener("case-removed", reloadClocks);
  source.addEventListener("silences", async () => { await loadSilences(); refresh(); });
  source.addEventListener("signed-out", () => { source.close(); showSignIn(); });
  source.onerror = () => { $("live").textContent = "reconnecting"; $("live").classList.remove("on"); };
}

function refresh() {
  if (state.view === "board") renderBoard();
  else if (state.view === "clocks") renderClocks();
  else if (state.view === "silences") renderSilences();
  else if (state.view === "case") renderCase(state.caseId);
}

function route() {
  const hash = location.hash.slice(1) || "board";
  if (hash.startsWith("case/")) { state.view = "case"; state.caseId = decodeURIComponent(hash.slice(5)); }
  else state.view = ["clocks", "silences"].includes(hash) ? hash : "board";
  show(state.view);
  refresh();
}

async function start() {
  const reply = await fetch("/console/api/me", { credentials: "same-origin" });
  if (reply.status !== 200) { showSignIn(); return; }
  state.me = await reply.json();
  $("whoami").textContent = `${state.me.user} (${state.me.access})`;
  $("signout").hidden = false;
  listen();
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("filters").addEventListener("input", renderBoard);
  $("clear-filters").addEventListener("click", () => { $("filters").reset(); renderBoard(); });
  $("sound").checked = localStorage.getItem("wk-sound") === "on";
  $("sound").addEventListener("change", () => localStorage.setItem("wk-sound", $("sound").checked ? "on" : "off"));
  $("silence-form").addEventListener("submit", setSilence);
  window.addEventListener("hashchange", route);
  setInterval(tick, 1000);
  setInterval(() => { if (state.me) loadDeliveries().catch(() => {}); }, 30000);
  start();
});
