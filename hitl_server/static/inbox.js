// The hitl-kit review inbox: sign in with a bearer token, list pending approvals, decide
// them, and follow the server's event stream so the list stays current without reloads.
// Plain ES module, no build step, no external resources.

const TOKEN_KEY = "hitl.inbox.token";
const API = new URL("../v1/", document.baseURI);
const PAGE_LIMIT = 100;
const MAX_PAGES = 20;
const MAX_NOTES = 5;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

const PAST = { approve: "approved", edit: "edited", reject: "rejected", respond: "answered" };
const STATUS_LABEL = {
  0: "Network error",
  401: "Not signed in",
  403: "Not allowed",
  404: "Not found",
  409: "Already decided",
  422: "Invalid",
};

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const ui = {
  form: $("sign-in-form"),
  token: $("token-input"),
  signInError: $("sign-in-error"),
  session: $("session"),
  whoami: $("whoami"),
  signOut: $("sign-out"),
  connection: $("connection"),
  inbox: $("inbox"),
  count: $("count"),
  refresh: $("refresh"),
  listError: $("list-error"),
  notes: $("notes"),
  empty: $("empty"),
  list: $("request-list"),
};

const state = {
  token: null,
  me: null,
  /** request id -> {request, card} */
  items: new Map(),
  /** ids the stream said are no longer pending: never (re)insert them */
  gone: new Set(),
  /** aborts the event stream and any pending retry sleep on sign-out */
  session: null,
  lastEventId: null,
  loading: null,
  reloadAgain: false,
};

// -- HTTP ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, name, message) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

function describeFailure(status, data, text) {
  if (data && typeof data.message === "string") return [data.error || `HTTP ${status}`, data.message];
  if (data && typeof data.detail === "string") return [`HTTP ${status}`, data.detail];
  if (data && Array.isArray(data.detail)) {
    const problems = data.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`);
    return [`HTTP ${status}`, problems.join("; ")];
  }
  return [`HTTP ${status}`, text || "The server gave no reason."];
}

async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, API), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "NetworkError", "The server could not be reached.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const [name, message] = describeFailure(response.status, data, text);
    throw new ApiError(response.status, name, message);
  }
  return data;
}

// -- Server-Sent Events over fetch -------------------------------------------------------
// EventSource cannot send an Authorization header, so the stream is read with fetch() and
// parsed here, following the WHATWG event-stream rules: lines end in CRLF, LF or CR; a
// blank line dispatches; ":" starts a comment; fields are event, data, id and retry.

/**
 * Read an event stream to its end.
 * @param {ReadableStream<Uint8Array>} body
 * @param {{onEvent: (e: {type: string, data: string, id: string|null}) => void,
 *          onId?: (id: string|null) => void, onRetry?: (ms: number) => void}} handlers
 */
export async function readEventStream(body, { onEvent, onId = () => {}, onRetry = () => {} }) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  let type = "";
  let idBuffer = null;
  let idSeen = false;

  const line = (text) => {
    if (text === "") {
      if (idSeen) onId(idBuffer);
      idSeen = false;
      if (data.length) onEvent({ type: type || "message", data: data.join("\n"), id: idBuffer });
      data = [];
      type = "";
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id" && !value.includes("\0")) {
      idBuffer = value || null;
      idSeen = true;
    } else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
  };

  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += value;
    for (;;) {
      const end = /\r\n|\r|\n/.exec(buffer);
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (!end || (end[0] === "\r" && end.index === buffer.length - 1 && !done)) break;
      line(buffer.slice(0, end.index));
      buffer = buffer.slice(end.index + end[0].length);
    }
    if (done) return; // an unterminated last event is dropped, as the standard says
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function setConnection(kind, text) {
  ui.connection.dataset.state = kind;
  ui.connection.textContent = text;
}

async function followEvents(signal) {
  let retry = RETRY_MIN_MS;
  let delay = retry;
  let opened = false;
  while (!signal.aborted) {
    setConnection("connecting", opened ? "Reconnecting…" : "Connecting…");
    try {
      const url = new URL("events", API);
      const headers = { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" };
      if (state.lastEventId !== null) {
        url.searchParams.set("after", state.lastEventId);
        headers["Last-Event-ID"] = state.lastEventId;
      }
      const response = await fetch(url, { headers, signal, cache: "no-store" });
      if (response.status === 401) {
        endSession("Your token is no longer accepted (401). Sign in again.");
        return;
      }
      // A resume point the server refuses: start from now; the reload below catches up.
      if (response.status === 422) state.lastEventId = null;
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setConnection("live", "Live");
      delay = retry;
      // The list is (re)read each time the stream opens, so nothing falls in between.
      opened = true;
      reload();
      await readEventStream(response.body, {
        onEvent: handleEvent,
        onId: (id) => { state.lastEventId = id; },
        onRetry: (ms) => { retry = Math.max(ms, 100); delay = retry; },
      });
    } catch (error) {
      if (signal.aborted) return;
    }
    const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
    setConnection("reconnecting", `Disconnected · retrying in ${Math.ceil(wait / 1000)} s`);
    await sleep(wait, signal);
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }
}

function handleEvent({ type, data }) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  const kind = event.kind || type;
  const id = event.request_id;
  if (!id) return;
  if (kind === "created") {
    if (!state.items.has(id) && !state.gone.has(id)) insertById(id);
    return;
  }
  if (kind === "decided" || kind === "expired" || kind === "resumed" || kind === "cancelled") {
    state.gone.add(id);
    const item = state.items.get(id);
    if (!item) return;
    const what = `${item.request.action.tool} (${item.request.run_id})`;
    if (kind === "expired") removeItem(id, `${what} expired without a decision.`);
    else if (kind === "cancelled") removeItem(id, `${what}: the run was cancelled.`);
    else {
      const verb = PAST[event.decision] || "decided";
      removeItem(id, `${what} was ${verb} by ${event.actor || "someone else"}.`);
    }
  }
}

async function insertById(id) {
  const session = state.session;
  try {
    const request = await api(`requests/${encodeURIComponent(id)}`);
    if (state.session !== session) return;
    if (request.status === "pending" && !state.gone.has(id) && !state.items.has(id)) insert(request);
  } catch (error) {
    if (error.status === 401) endSession("Your token is no longer accepted (401). Sign in again.");
  }
}

// -- The list ------------------------------------------------------------------------------

async function fetchPending() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ status: "pending", limit: String(PAGE_LIMIT) });
    if (cursor) query.set("cursor", cursor);
    const data = await api(`requests?${query}`);
    items.push(...data.items);
    if (!data.next_cursor || data.next_cursor === cursor) break;
    cursor = data.next_cursor;
  }
  return items;
}

/** Re-read the pending list; calls made while one is running coalesce into one more. */
function reload() {
  if (state.loading) {
    state.reloadAgain = true;
    return state.loading;
  }
  const session = state.session;
  const run = (async () => {
    do {
      state.reloadAgain = false;
      const before = new Set(state.items.keys());
      try {
        const pending = await fetchPending();
        if (state.session !== session) return;
        hide(ui.listError);
        const ids = new Set(pending.map((r) => r.id));
        for (const id of before) if (!ids.has(id)) removeItem(id);
        for (const request of pending) {
          if (!state.items.has(request.id) && !state.gone.has(request.id)) insert(request);
        }
      } catch (error) {
        if (state.session !== session) return;
        if (error.status === 401) {
          endSession("Your token is no longer accepted (401). Sign in again.");
          return;
        }
        show(ui.listError, `Could not load the pending approvals: ${error.message}`);
      }
    } while (state.reloadAgain && state.session === session);
    updateCount();
  })().finally(() => {
    if (state.loading === run) state.loading = null;
  });
  state.loading = run;
  return run;
}

function insert(request) {
  const card = renderRequest(request);
  state.items.set(request.id, { request, card });
  // Oldest first, as the API lists them.
  const later = [...state.items.values()].find(
    (other) => other.card.isConnected && other.request.created_at > request.created_at,
  );
  ui.list.insertBefore(card, later ? later.card : null);
  updateCount();
}

function removeItem(id, note) {
  const item = state.items.get(id);
  if (!item) return;
  state.items.delete(id);
  item.card.remove();
  if (note) addNote(note);
  updateCount();
}

function updateCount() {
  const n = state.items.size;
  ui.count.textContent = n ? `(${n})` : "";
  ui.empty.hidden = n !== 0 || !state.token;
}

function addNote(text) {
  const li = el("li", { "data-testid": "note" }, text);
  ui.notes.prepend(li);
  while (ui.notes.children.length > MAX_NOTES) ui.notes.lastElementChild.remove();
}

// -- Rendering -----------------------------------------------------------------------------

let uid = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function show(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function hide(node) {
  node.textContent = "";
  node.hidden = true;
}

function display(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function timeEl(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  return el("time", { datetime: iso, title: iso }, text);
}

function argsTable(args) {
  const keys = Object.keys(args || {});
  if (!keys.length) return el("p", { class: "hint" }, "No arguments.");
  return el(
    "table",
    { class: "args", "data-testid": "request-args" },
    el("caption", { class: "visually-hidden" }, "Arguments"),
    el(
      "tbody",
      {},
      keys.map((key) =>
        el(
          "tr",
          { "data-arg": key },
          el("th", { scope: "row" }, key),
          el("td", {}, el(typeof args[key] === "string" ? "span" : "code", {}, display(args[key]))),
        ),
      ),
    ),
  );
}

function meta(request) {
  const requester = request.context && request.context.requested_by;
  const pairs = [
    ["Run", el("code", { "data-testid": "request-run" }, request.run_id)],
    ["Requested by", el("span", { "data-testid": "request-requester" }, requester || "not stated")],
    ["Created", timeEl(request.created_at)],
    ["Expires", timeEl(request.expires_at)],
  ];
  return el("dl", { class: "meta" }, pairs.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
}

/** The edited arguments: strings stay strings; other values are read as JSON when valid. */
function editedArgs(original, inputs) {
  const args = {};
  for (const [key, input] of inputs) {
    const text = input.value;
    if (typeof original[key] === "string") {
      args[key] = text;
      continue;
    }
    try {
      args[key] = JSON.parse(text);
    } catch {
      args[key] = text;
    }
  }
  return args;
}

function renderRequest(request) {
  const n = ++uid;
  const allowed = new Set(request.allowed || []);
  // Whoever started the run may reject it but not approve it (the server refuses with 403).
  const ownRun = Boolean(state.me) && request.context && request.context.requested_by === state.me.id;
  if (ownRun) {
    allowed.delete("approve");
    allowed.delete("edit");
  }
  const args = request.action.args || {};
  const title = `req-${n}-title`;
  const reason = `req-${n}-reason`;
  const error = el("div", { class: "error", role: "alert", "data-testid": "request-error", hidden: true });
  const card = el("article", {
    class: "request",
    "data-testid": "request",
    "data-request-id": request.id,
    "data-run-id": request.run_id,
    "aria-labelledby": `${title} ${reason}`,
  });

  const panels = [];
  const toggles = [];
  const closeAll = () => {
    for (const p of panels) p.hidden = true;
    for (const t of toggles) t.setAttribute("aria-expanded", "false");
  };
  const panel = (name, label, build) => {
    const id = `req-${n}-${name}`;
    const form = el("form", { id, class: "panel", "data-testid": `${name}-form`, hidden: true });
    const toggle = el("button", {
      type: "button",
      "aria-expanded": "false",
      "aria-controls": id,
      "data-testid": name,
      onclick: () => {
        const opening = form.hidden;
        closeAll();
        form.hidden = !opening;
        toggle.setAttribute("aria-expanded", String(opening));
        if (opening) form.querySelector("input, textarea")?.focus();
      },
    }, label);
    build(form, n);
    const cancel = el("button", { type: "button", class: "quiet", onclick: () => { closeAll(); toggle.focus(); } }, "Cancel");
    form.append(el("div", { class: "buttons" }, form.querySelector('button[type="submit"]'), cancel));
    panels.push(form);
    toggles.push(toggle);
    return toggle;
  };

  const submit = (body) => decide(request, card, error, body);
  const buttons = [];
  if (allowed.has("approve")) {
    buttons.push(
      el("button", { type: "button", class: "primary", "data-testid": "approve", onclick: () => submit({ type: "approve" }) }, "Approve"),
    );
  }
  if (allowed.has("edit")) {
    buttons.push(panel("edit", "Edit arguments", (form, n) => {
      const inputs = new Map();
      const fields = Object.keys(args).map((key, i) => {
        const id = `req-${n}-arg-${i}`;
        const value = display(args[key]);
        const multiline = value.includes("\n") || value.length > 60;
        const input = el(multiline ? "textarea" : "input", {
          id,
          name: key,
          spellcheck: "false",
          "data-testid": `edit-arg-${key}`,
          rows: multiline ? Math.min(12, value.split("\n").length + 1) : null,
          type: multiline ? null : "text",
        });
        input.value = value;
        inputs.set(key, input);
        return el("div", { class: "field" }, el("label", { for: id }, key), input);
      });
      const feedback = el("textarea", { id: `req-${n}-edit-feedback`, rows: 2, "data-testid": "edit-feedback" });
      form.append(
        el("p", { class: "hint" }, "Values are read as JSON (numbers, true/false, objects); text arguments stay text."),
        ...fields,
        el("div", { class: "field" }, el("label", { for: feedback.id }, "Note for the agent (optional)"), feedback),
        el("button", { type: "submit", class: "primary", "data-testid": "edit-submit" }, "Run with these arguments"),
      );
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const body = { type: "edit", args: editedArgs(args, inputs) };
        if (feedback.value.trim()) body.feedback = feedback.value.trim();
        submit(body);
      });
    }));
  }
  if (allowed.has("reject")) {
    buttons.push(panel("reject", "Reject", (form, n) => {
      const feedback = el("textarea", { id: `req-${n}-reject-feedback`, rows: 2, "data-testid": "reject-feedback" });
      form.append(
        el("div", { class: "field" }, el("label", { for: feedback.id }, "Feedback for the agent (optional)"), feedback),
        el("button", { type: "submit", class: "danger", "data-testid": "reject-submit" }, "Reject the call"),
      );
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const body = { type: "reject" };
        if (feedback.value.trim()) body.feedback = feedback.value.trim();
        submit(body);
      });
    }));
  }
  if (allowed.has("respond")) {
    buttons.push(panel("respond", "Respond", (form, n) => {
      const answer = el("textarea", { id: `req-${n}-answer`, rows: 3, required: true, "data-testid": "respond-answer" });
      form.append(
        el("div", { class: "field" }, el("label", { for: answer.id }, "Answer (the agent gets it instead of the tool's result)"), answer),
        el("button", { type: "submit", class: "primary", "data-testid": "respond-submit" }, "Send the answer"),
      );
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit({ type: "respond", answer: answer.value });
      });
    }));
  }

  card.append(
    el(
      "header",
      {},
      el("h3", { id: title }, el("code", { "data-testid": "request-tool" }, request.action.tool)),
      el("p", { id: reason, class: "reason", "data-testid": "request-reason" }, request.reason),
    ),
    argsTable(args),
    meta(request),
    ownRun
      ? el("p", { class: "hint", "data-testid": "own-run" }, "You started this run: another reviewer must approve it. You may reject it.")
      : "",
    el("div", { class: "actions", role: "group", "aria-label": `Decide on ${request.action.tool}` }, buttons),
    ...panels,
    error,
  );
  return card;
}

// -- Deciding ------------------------------------------------------------------------------

async function decide(request, card, error, body) {
  const controls = card.querySelectorAll("button, input, textarea");
  for (const c of controls) c.disabled = true;
  card.setAttribute("aria-busy", "true");
  hide(error);
  try {
    const result = await api(`requests/${encodeURIComponent(request.id)}/decision`, {
      method: "POST",
      body: { ...body, args_digest: request.args_digest },
    });
    state.gone.add(request.id);
    const then = result && result.resume === "scheduled" ? " The run resumes." : "";
    removeItem(request.id, `You ${PAST[body.type]} ${request.action.tool} (${request.run_id}).${then}`);
  } catch (failure) {
    if (failure.status === 401) {
      endSession("Your token is no longer accepted (401). Sign in again.");
      return;
    }
    const label = STATUS_LABEL[failure.status] || failure.name;
    error.replaceChildren(el("strong", {}, `${label}${failure.status ? ` (${failure.status})` : ""}: `), failure.message);
    error.hidden = false;
    if (failure.status === 409) {
      addNote(`${request.action.tool} (${request.run_id}): ${failure.message}`);
      reload();
    }
  } finally {
    for (const c of controls) c.disabled = false;
    card.removeAttribute("aria-busy");
  }
}

// -- Session -------------------------------------------------------------------------------

async function signIn(token) {
  endSession();
  state.token = token;
  ui.form.querySelector("button").disabled = true;
  try {
    state.me = await api("me");
  } catch (error) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    const why =
      error.status === 401
        ? "That token was not accepted (401): check it and try again."
        : `Could not sign in: ${error.message}`;
    show(ui.signInError, why);
    ui.token.focus();
    return;
  } finally {
    ui.form.querySelector("button").disabled = false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  hide(ui.signInError);
  ui.token.value = "";
  ui.form.hidden = true;
  const roles = state.me.roles && state.me.roles.length ? ` (${state.me.roles.join(", ")})` : "";
  ui.whoami.textContent = `Signed in as ${state.me.id}${roles}`;
  ui.session.hidden = false;
  ui.inbox.hidden = false;
  state.session = new AbortController();
  // The stream reads the list as soon as it is open; read it now too, in case it can't open.
  followEvents(state.session.signal);
  await reload();
}

/** Forget the token and everything shown; `message` explains why on the sign-in form. */
function endSession(message) {
  if (state.session) state.session.abort();
  state.session = null;
  state.loading = null;
  state.reloadAgain = false;
  state.token = null;
  state.me = null;
  state.lastEventId = null;
  state.gone.clear();
  for (const id of [...state.items.keys()]) removeItem(id);
  ui.notes.replaceChildren();
  hide(ui.listError);
  sessionStorage.removeItem(TOKEN_KEY);
  ui.session.hidden = true;
  ui.inbox.hidden = true;
  ui.form.hidden = false;
  setConnection("offline", "Signed out");
  if (message) show(ui.signInError, message);
  updateCount();
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  if (token) signIn(token);
});
ui.signOut.addEventListener("click", () => {
  endSession();
  hide(ui.signInError);
  ui.token.focus();
});
ui.refresh.addEventListener("click", () => reload());

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
