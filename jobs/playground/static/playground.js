// The playground page (docs/playground.md). Plain JavaScript, no build step, nothing loaded from elsewhere.
// Every text from the server is put in with textContent, never as HTML.
"use strict";

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  let state = null;
  let busy = false;
  const columns = [0, 1].map((index) => {
    const root = document.getElementById(`col-${index}`);
    return {
      index, root,
      name: $(".name", root), deployment: $(".column-head .deployment", root),
      variant: $("select.variant", root), deploymentInput: $(".deployment-input", root),
      system: $("textarea.system", root), systemSource: $(".system-source", root),
      apply: $("button.apply", root), applyBoth: $("button.apply-both", root),
      transcript: $(".transcript", root),
      live: null, // the answer now arriving: {node, text, marks}
    };
  });
  const message = $("#message");
  const send = $("#send");
  const status = $("#status");

  class ApiError extends Error {
    constructor(error) {
      super(error.message || "the playground did not answer");
      this.hint = error.hint || "";
    }
  }

  // GET (no body) or POST JSON; the response once it is OK, else an ApiError with the server's reason.
  async function call(path, body) {
    const response = await fetch(path, body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new ApiError(data.error || { message: `HTTP ${response.status}` });
    }
    return response;
  }
  const api = async (path, body) => (await call(path, body)).json();

  const say = (text) => { status.textContent = text; };
  const problem = (error) => (error.hint ? `${error.message} (fix: ${error.hint})` : error.message);

  // ------------------------------------------------------------------ rendering
  // The local backend's label ("local model (SmolLM2-135M-Instruct on this machine) standing in for gpt-4.1").
  function showLocalModel(label) {
    if (!label) return;
    $("#local-model-label").textContent = label;
    $("#local-model-banner").hidden = false;
  }

  function render(next) {
    state = next;
    $("#stand-in-banner").hidden = !state.stand_in;
    showLocalModel(state.local_model);
    renderDeployments(state.deployments);
    columns.forEach((column) => renderColumn(column, state.columns[column.index]));
  }

  // The Deployment fields' suggestions (one datalist for both).
  function renderDeployments(names) {
    const list = $("#deployments");
    list.replaceChildren(...names.map((name) => { const o = el("option"); o.value = name; return o; }));
  }

  // The account's deployments are listed in the background after the server starts: while the state says
  // "pending", ask again now and then and update only the suggestions (an answer may be arriving).
  async function awaitAccountDeployments(tries) {
    if (!state || state.account_deployments !== "pending" || tries <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const next = await api("/api/state").catch(() => null);
    if (!next) return;
    state.deployments = next.deployments;
    state.account_deployments = next.account_deployments;
    renderDeployments(next.deployments);
    awaitAccountDeployments(tries - 1);
  }

  function renderColumn(column, data) {
    const v = data.variant;
    column.name.textContent = v.name;
    column.deployment.textContent = v.deployment;
    const names = state.variants.map((x) => x.name);
    const options = names.map((name) => { const o = el("option", "", name); o.value = name; return o; });
    if (!names.includes(v.name)) {
      const custom = el("option", "", `${v.name} (this column's own)`);
      custom.value = "";
      options.unshift(custom);
    }
    column.variant.replaceChildren(...options);
    column.variant.value = names.includes(v.name) ? v.name : "";
    column.deploymentInput.value = v.deployment;
    column.system.value = v.system || "";
    column.systemSource.textContent = `Now: ${v.system === null ? "no system message" : v.system_source}.`;
    column.apply.setAttribute("aria-label", `Apply to ${v.name}`);
    column.applyBoth.setAttribute("aria-label", `Apply to both: the system message of ${v.name}`);
    column.transcript.replaceChildren();
    column.live = null;
    data.transcript.forEach((turn) => {
      const answer = addTurn(column, turn.prompt);
      finish(answer, v.name, turn);
    });
  }

  // One question and its answer: returns the answer's node.
  function addTurn(column, prompt) {
    const item = el("li", "turn");
    const user = el("div", "msg user");
    user.append(el("span", "who", "You"), el("p", "text", prompt));
    const answer = el("div", "msg assistant");
    answer.setAttribute("aria-busy", "true");
    const who = el("span", "who", column.name.textContent);
    answer.append(who, el("p", "text", ""));
    item.append(user, answer);
    column.transcript.append(item);
    return answer;
  }

  // The answer's text with each located violation marked: a colour, a wavy underline and a warning sign, the
  // check's name in words after the first one (and for screen readers before each).
  function renderText(node, text, marks) {
    const p = $(".text", node);
    p.replaceChildren();
    let at = 0;
    const located = marks.filter((m) => m.start !== null).sort((a, b) => a.start - b.start);
    const named = new Set();
    for (const m of located) {
      if (m.start < at) continue;
      p.append(text.slice(at, m.start));
      const mark = el("mark", "violation");
      mark.dataset.check = m.check;
      mark.append(el("span", "visually-hidden", `${m.check} violation: `), text.slice(m.start, m.end));
      const tag = el("span", "violation-tag", named.has(m.check) ? "⚠" : `⚠ ${m.check}`);
      tag.setAttribute("aria-hidden", "true");
      named.add(m.check);
      p.append(mark, tag);
      at = m.end;
    }
    p.append(text.slice(at));
  }

  function note(node, text) {
    let n = $(".note", node);
    if (!n) { n = el("p", "note"); $(".text", node).before(n); }
    n.textContent = text;
  }

  function seconds(ms) { return ms === null || ms === undefined ? "?" : `${(ms / 1000).toFixed(2)} s`; }

  // A finished turn (from /api/state, or the "done"/"error" event).
  function finish(node, variantName, turn) {
    node.setAttribute("aria-busy", "false");
    const n = $(".note", node);
    if (n) n.remove();
    const who = $(".who", node);
    who.textContent = variantName;
    if (turn.stand_in) who.append(el("span", "badge", "stand-in"));
    if (turn.local_model) {
      const badge = el("span", "badge", "local model");
      badge.title = turn.local_model;
      who.append(badge);
    }
    if (turn.error) {
      $(".text", node).replaceChildren();
      const box = el("p", "error");
      box.setAttribute("role", "alert");
      box.append(el("strong", "", `No answer from ${variantName}: `), turn.error.message);
      if (turn.error.hint) box.append(`\nfix: ${turn.error.hint}`);
      $(".text", node).after(box);
    } else {
      renderText(node, turn.answer, turn.marks);
      const checks = el("ul", "checks");
      checks.setAttribute("aria-label", "Checks");
      for (const [name, result] of Object.entries(turn.checks)) {
        const item = el("li", `check ${result.passed ? "pass" : "fail"}`);
        item.dataset.check = name;
        item.append(result.passed ? `✓ ${name}: pass` : `✗ ${name}: FAIL`);
        const marked = turn.marks.filter((m) => m.check === name && m.start !== null).length;
        const why = marked ? `${marked} marked in the text` : result.evidence;
        if (!result.passed && why) item.append(el("span", "evidence", ` (${why})`));
        checks.append(item);
      }
      node.append(checks);
    }
    const usage = turn.usage || {};
    const parts = [`latency ${seconds(turn.latency_ms)}`];
    if (turn.first_token_ms !== undefined && turn.first_token_ms !== null) parts.push(`first token ${seconds(turn.first_token_ms)}`);
    if (usage.prompt_tokens !== undefined) {
      parts.push(`${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`);
    }
    if (turn.model) parts.push(turn.model);
    node.append(el("p", "meta", parts.join(" · ")));
  }

  // ------------------------------------------------------------------ asking
  function setBusy(value) {
    busy = value;
    document.querySelectorAll("button, select, .deployment-input, .system")
      .forEach((control) => { control.disabled = value; });
    const exporting = $("#export");
    if (value) exporting.setAttribute("aria-disabled", "true"); else exporting.removeAttribute("aria-disabled");
  }

  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n").filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart()).join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  }

  function onEvent(event, outcome) {
    if (event.kind === "end") return;
    const column = columns[event.column];
    const live = column.live;
    if (event.kind === "start") {
      const sent = el("p", "sent", event.system === null ? "Sent with no system message."
        : `Sent with system message (${event.system_source}): “${event.system.length > 90 ? `${event.system.slice(0, 90)}…` : event.system}”`);
      live.node.append(sent);
    } else if (event.kind === "delta") {
      live.text += event.text;
      renderText(live.node, live.text, live.marks);
    } else if (event.kind === "check") {
      live.marks = event.marks;
      renderText(live.node, live.text, live.marks);
    } else if (event.kind === "restart") {
      live.text = "";
      live.marks = [];
      renderText(live.node, "", []);
      note(live.node, `The stream broke off; the answer starts again. ${event.note}`);
    } else if (event.kind === "wait") {
      note(live.node, event.note);
    } else if (event.kind === "done" || event.kind === "error") {
      const sent = $(".sent", live.node);
      finish(live.node, state.columns[column.index].variant.name, event);
      if (sent) live.node.append(sent);
      if (event.stand_in) $("#stand-in-banner").hidden = false;
      if (event.local_model) showLocalModel(event.local_model);
      const failed = Object.entries(event.checks || {}).filter(([, r]) => !r.passed).map(([n]) => n);
      outcome[column.index] = event.kind === "error" ? `${column.name.textContent}: no answer (its column says why)`
        : `${column.name.textContent}: ${failed.length ? `failed ${failed.join(", ")}` : "every check passed"}`;
      column.live = null;
    }
  }

  async function ask(text) {
    if (busy) { say("Wait until both columns have answered."); return; }
    if (!text.trim()) { say("Type a message first, or pick one of the lab's questions."); return; }
    setBusy(true);
    say("Asking both columns…");
    columns.forEach((column) => { column.live = { node: addTurn(column, text.trim()), text: "", marks: [] }; });
    const outcome = ["", ""];
    let streamed = false;
    try {
      const response = await call("/api/ask", { text });
      message.value = "";
      for await (const event of events(response)) onEvent(event, outcome);
      streamed = columns.every((column) => column.live === null);
      say(streamed ? `Answered. ${outcome.join("; ")}.` : "The answers broke off: showing what the server kept.");
    } catch (error) {
      say(`Not sent: ${problem(error)}`);
    } finally {
      setBusy(false);
      if (!streamed) render(await api("/api/state").catch(() => state)); // the server's record of the turn
      message.focus();
    }
  }

  // ------------------------------------------------------------------ setup
  async function apply(setups, done) {
    if (busy) return;
    try {
      render(await api("/api/apply", { columns: setups }));
      say(done);
    } catch (error) {
      say(`Not applied: ${problem(error)}`);
    }
  }

  columns.forEach((column) => {
    column.variant.addEventListener("change", () => {
      if (!column.variant.value) return;
      apply([{ index: column.index, variant: column.variant.value }],
        `The ${column.index ? "right" : "left"} column now shows ${column.variant.value}; its conversation starts again.`);
    });
    column.apply.addEventListener("click", () => apply(
      [{ index: column.index, deployment: column.deploymentInput.value, system: column.system.value }],
      `Applied to ${column.name.textContent}; its conversation starts again.`));
    column.applyBoth.addEventListener("click", () => apply(
      columns.map((c) => ({ index: c.index, deployment: c.deploymentInput.value, system: column.system.value })),
      "Applied the system message to both columns; both conversations start again."));
  });

  $("#clear").addEventListener("click", async () => {
    if (busy) return;
    try {
      render(await api("/api/clear", {}));
      say("Chat cleared in both columns.");
    } catch (error) {
      say(`Not cleared: ${problem(error)}`);
    }
  });
  $("#export").addEventListener("click", (event) => { if (busy) event.preventDefault(); });

  $("#composer").addEventListener("submit", (event) => { event.preventDefault(); ask(message.value); });
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(message.value);
    }
  });

  async function load() {
    try {
      render(await api("/api/state"));
      awaitAccountDeployments(30);
      const chips = $(".chips");
      state.questions.forEach((question) => {
        const chip = el("button", "chip", question);
        chip.type = "button";
        chip.addEventListener("click", () => ask(question));
        chips.append(chip);
      });
    } catch (error) {
      const box = $("#load-error");
      box.textContent = `The playground's server did not answer: ${problem(error)}`;
      box.hidden = false;
    }
  }
  load();
})();
