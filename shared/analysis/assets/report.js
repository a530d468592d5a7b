
(() => {
  "use strict";
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const ROWS = DATA.rows;
  const $ = (id) => document.getElementById(id);

  // Every node is built from text: dialogue content never reaches innerHTML.
  function el(tag, cls, ...kids) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }
  const outcomeOf = (r) => !r.graded ? "ungraded" : (r.passed ? "pass" : "fail");
  function outcomeText(r) {
    if (!r.graded) return "not graded";
    return r.outcome;
  }
  const alignedOf = (r) => r.aligned === null ? "unknown" : (r.aligned ? "yes" : "no");
  const NOT_RECORDED = "not recorded (tangents and complaints derived from tangential_config.json; "
    + "outbursts, fragments, truncations not recorded)";
  const money = (x) => x === null || x === undefined ? "–" : x.toFixed(4);

  function fillSelect(id, values, allLabel) {
    const select = $(id);
    select.append(new Option(allLabel, ""));
    for (const v of values) select.append(new Option(v, v));
  }
  const uniq = (key) => [...new Set(ROWS.map((r) => r[key]))].sort();
  fillSelect("f-env", uniq("env"), "all");
  fillSelect("f-tree", uniq("tree"), "all");
  fillSelect("f-model", uniq("model"), "all");
  fillSelect("f-behaviour", uniq("behaviour"), "all");
  const kinds = [...new Set(ROWS.flatMap((r) => r.events))].sort();
  fillSelect("f-event", kinds, "any");
  $("f-event").append(new Option("no recorded event", "-none"));

  function badge(kind, derived, title) {
    const b = el("span", "badge ev-" + kind.replace(/[^a-z_]/g, "") + (derived ? " derived" : ""), kind);
    if (title) b.title = title;
    return b;
  }

  const tbody = document.querySelector("#dlg-table tbody");
  const trs = new Map();
  for (const r of ROWS) {
    const tr = el("tr", null);
    tr.dataset.id = String(r.id);
    tr.tabIndex = 0;
    const events = el("td", null);
    for (const k of r.events) events.append(badge(k, !r.events_recorded, null));
    if (!r.events_recorded) events.append(el("span", "none", r.events.length ? "(derived)" : "not recorded"));
    tr.append(
      el("td", null, r.env), el("td", null, r.tree), el("td", null, r.model), el("td", null, r.behaviour),
      el("td", null, r.scenario), el("td", null, r.run === null ? "–" : r.run),
      el("td", outcomeOf(r) === "pass" ? "pass" : (outcomeOf(r) === "fail" ? "fail" : "none"), outcomeText(r)),
      el("td", null, r.aligned === null ? "–" : (r.aligned ? "yes" : "no")), el("td", null, r.turns), events,
      el("td", null, money(r.cost)));
    tr.addEventListener("click", () => open(r.id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") open(r.id); });
    trs.set(r.id, tr);
    tbody.append(tr);
  }

  let haystacks = null;  // built on the first search: row fields plus everything said
  function haystack(r) {
    if (!haystacks) {
      haystacks = new Map();
      for (const row of ROWS) {
        const t = DATA.transcripts[row.id] || { steps: [] };
        const said = t.steps.filter((s) => s.type === "user" || s.type === "agent").map((s) => s.text || s.action || "");
        const fields = [row.scenario, row.model, row.behaviour, row.tree, row.folder, ...row.events, ...said];
        haystacks.set(row.id, fields.join("\n").toLowerCase());
      }
    }
    return haystacks.get(r.id);
  }

  function applyFilters() {
    const f = {
      env: $("f-env").value, tree: $("f-tree").value, model: $("f-model").value, behaviour: $("f-behaviour").value,
      outcome: $("f-outcome").value, aligned: $("f-aligned").value, event: $("f-event").value,
      text: $("f-text").value.trim().toLowerCase(),
    };
    let shown = 0;
    for (const r of ROWS) {
      const ok = (!f.env || r.env === f.env) && (!f.tree || r.tree === f.tree) && (!f.model || r.model === f.model)
        && (!f.behaviour || r.behaviour === f.behaviour) && (!f.outcome || outcomeOf(r) === f.outcome)
        && (!f.aligned || alignedOf(r) === f.aligned)
        && (!f.event || (f.event === "-none" ? r.events.length === 0 : r.events.includes(f.event)))
        && (!f.text || haystack(r).includes(f.text));
      trs.get(r.id).hidden = !ok;
      if (ok) shown += 1;
    }
    $("dlg-count").textContent = shown + " of " + ROWS.length + " dialogues";
  }
  for (const id of ["f-env", "f-tree", "f-model", "f-behaviour", "f-outcome", "f-aligned", "f-event"]) {
    $(id).addEventListener("change", applyFilters);
  }
  $("f-text").addEventListener("input", applyFilters);

  let sortKey = null, sortDir = 1;
  for (const th of document.querySelectorAll("#dlg-table th")) {
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      sortDir = sortKey === key ? -sortDir : 1;
      sortKey = key;
      const value = (r) => key === "outcome" ? outcomeOf(r) + String(r.score) : key === "aligned" ? alignedOf(r)
        : key === "events" ? r.events.join(",") : r[key];
      const sorted = [...ROWS].sort((a, b) => {
        const x = value(a), y = value(b);
        if (x === y) return a.id - b.id;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * sortDir;
      });
      for (const r of sorted) tbody.append(trs.get(r.id));
    });
  }

  function eventTitle(e) {
    const rest = Object.entries(e).filter(([k]) => k !== "event" && k !== "derived");
    if (e.derived) rest.push(["source", "derived from tangential_config.json"]);
    return rest.map(([k, v]) => k + ": " + (typeof v === "string" ? v : JSON.stringify(v))).join("\n");
  }
  function eventDetail(e) {
    const text = e.tangent || e.complaint || (e.kind ? [e.kind, e.act, e.level].filter(Boolean).join(", ") : "")
      || (e.divisor ? "kept 1/" + e.divisor : "") || (Array.isArray(e.items) ? e.items.join("; ") : "");
    return text ? el("div", "ev-detail", e.event + ": " + text) : null;
  }
  function meta(pairs) {
    const dl = el("dl", "meta-grid");
    for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== "") dl.append(el("dt", null, k), el("dd", null, v));
    return dl;
  }

  function open(id) {
    const r = ROWS.find((x) => x.id === id);
    const t = DATA.transcripts[id];
    if (!r) return;
    for (const tr of trs.values()) tr.classList.remove("selected");
    trs.get(id).classList.add("selected");
    history.replaceState(null, "", "#d" + id);
    const box = $("transcript");
    box.replaceChildren();
    box.append(el("h3", null, r.scenario + " · run " + (r.run === null ? "–" : r.run)));
    if (!t) {
      box.append(el("p", "hint", "Transcript not embedded: this page holds " + Object.keys(DATA.transcripts).length + " of "
        + ROWS.length + " (ncusim report --max-transcripts N, or a narrower PATH). Folder: " + r.folder));
      return;
    }
    const head = el("div", "grade");
    head.append(el("span", outcomeOf(r) === "pass" ? "pass" : (outcomeOf(r) === "fail" ? "fail" : "none"), outcomeText(r)), " · ",
      el("span", r.aligned ? "pass" : (r.aligned === false ? "fail" : "none"),
        r.aligned === null ? "no alignment verdict" : (r.aligned ? "goal aligned" : "not goal aligned")));
    box.append(head);
    const grade = t.grade || {};
    const domains = grade.domains
      ? Object.entries(grade.domains).map(([d, ok]) => d + ": " + (ok ? "booked" : "not booked")).join(", ") : null;
    const flags = Object.entries(t.config || {}).filter(([, v]) => v).map(([k]) => k).join(", ");
    const usage = t.usage
      ? "$" + t.usage.cost.toFixed(4) + " · " + t.usage.tokens + " tokens · " + t.usage.calls + " calls" : "not recorded";
    const stats = t.stats && typeof t.stats === "object"
      ? Object.entries(t.stats).map(([k, v]) => k + " " + v).join(" · ") : null;
    box.append(meta([
      ["folder", r.folder], ["environment", r.env], ["tree", r.tree], ["model", r.model], ["behaviour", r.behaviour],
      ["behaviour flags", flags || "none"], ["domains", domains],
      ["reward info", grade.reward_info ? JSON.stringify(grade.reward_info) : null],
      ["grading error", r.error], ["judge error", t.judge_error],
      ["seed / attempt", t.meta ? t.meta.seed + " / " + t.meta.attempt : null],
      ["stats", stats], ["cost", usage],
      ["behaviour events", t.events_recorded ? "recorded per turn" : NOT_RECORDED],
      ["goal items per turn", t.conveyed_recorded ? "recorded" : "not recorded"],
    ]));
    if (t.goal) box.append(el("p", null, el("span", "who", "Goal"), t.goal));
    const unmatched = new Set(t.unmatched || []);
    if (t.items && t.items.length) {
      const ul = el("ul", "items");
      for (const item of t.items) {
        const missed = unmatched.has(item);
        ul.append(el("li", missed ? "unmatched" : null, item, missed ? " (unmatched)" : null));
      }
      const count = "Goal items (" + t.items.length + ")" + (unmatched.size ? ", " + unmatched.size + " unmatched" : "");
      box.append(el("details", null, el("summary", null, count), ul));
    }
    if (unmatched.size) {
      const ul = el("ul", "items");
      for (const item of unmatched) ul.append(el("li", "unmatched", item));
      box.append(el("div", "unmatched-items", el("span", "who", "Unmatched goal items (judge)"), ul));
    }
    for (const s of t.steps) {
      if (s.type === "prompt") {
        const text = DATA.prompts[s.key] || "";
        const summary = el("summary", null, "Agent system prompt (" + text.length + " characters)");
        box.append(el("details", "prompt", summary, el("pre", null, text)));
      } else if (s.type === "user") {
        const div = el("div", "turn turn-user");
        div.dataset.turn = String(s.turn);
        const line = el("div", null, el("span", "who", "User · turn " + s.turn));
        for (const e of s.events) line.append(badge(String(e.event), !!e.derived, eventTitle(e)));
        div.append(line, el("div", "said", s.text));
        for (const e of s.events) { const d = eventDetail(e); if (d) div.append(d); }
        if (s.conveyed === null || s.conveyed === undefined) {
          div.append(el("div", "conveyed none", "goal items conveyed: not recorded"));
        } else {
          const text = s.conveyed.length ? s.conveyed.join(" · ") : "none";
          div.append(el("div", "conveyed" + (s.conveyed.length ? "" : " none"), "goal items conveyed: " + text));
        }
        box.append(div);
      } else if (s.type === "agent") {
        const div = el("div", "turn turn-agent", el("span", "who", "Agent"));
        if (s.thought) div.append(el("div", "agent-thought", "Thought: " + s.thought));
        const label = s.kind === "talk" ? "talk" : s.kind === "call" ? "call " + (s.name || "?") : "unparsed action";
        const action = s.kind === "talk" ? el("span", "said", s.action) : el("pre", null, s.action);
        div.append(el("div", "agent-action", el("span", "kind", label), action));
        box.append(div);
      } else if (s.type === "observation") {
        const first = s.text.split("\n")[0];
        const summary = el("summary", null, first.length > 140 ? first.slice(0, 140) + "…" : first);
        box.append(el("details", "observation", summary, el("pre", null, s.text)));
      } else {
        box.append(el("div", "turn", el("span", "who", s.role), el("pre", null, s.text)));
      }
    }
    box.scrollTop = 0;
  }

  applyFilters();
  const m = /^#d(\d+)$/.exec(location.hash);
  if (m) open(Number(m[1]));
})();
