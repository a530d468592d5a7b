"""The report page: one HTML file with inline CSS, inline JS, the data as an inline JSON blob and the
plots as PNG data URIs. Nothing is fetched from the network.

Dialogue text is untrusted (it comes from models): the Python side escapes every table cell with
`html.escape`; the JSON blob escapes `<`, `>` and `&` so no `</script>` can end it early; the
viewer builds its DOM with `textContent` only (never `innerHTML`), so any markup in a dialogue is
shown as text.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from shared import __version__, environment
from shared.analysis.report_data import ReportData
from shared.analysis.report_rows import ExperimentRow, Section
from shared.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Spread

MAX_FAILURES_SHOWN = 200


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, Spread):
        return value.text()
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def finite(obj: Any) -> Any:
    """JSON.parse rejects NaN and Infinity, which Python's json writes (and reads from files)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: `<`, `>`, `&` and the JS line separators as escapes."""
    text = json.dumps(finite(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


SCORE_COLUMNS = (
    "tree",
    "model",
    "behaviour",
    "graded",
    "N",
    "success rate",
    "pass rate",
    "goal align",
    "rel. SR",
    "cost ($)",
    "not gradable",
)


def score_rows(rows: Sequence[ExperimentRow]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for r in rows:
        cost = None if r.cost is None else f"{r.cost:.4f}" + (f" ({r.cost_dialogues} dialogues)" if r.cost_dialogues != r.graded else "")
        out.append(
            [
                r.tree,
                r.model,
                r.behaviour if r.group is None else f"  ↳ {r.group}",
                r.graded,
                r.runs,
                r.success,
                r.pass_rate,
                r.goal_align,
                None if r.relative_sr is None else f"{r.relative_sr:.1f}",
                cost,
                r.ungradable if r.group is None else "",
            ]
        )
    return out


def score_section(rows: Sequence[ExperimentRow]) -> str:
    parts = []
    for env in sorted({r.env for r in rows}):
        mine = [r for r in rows if r.env == env]
        body = table(SCORE_COLUMNS, score_rows(mine), "scores")
        parts.append(f'<h3>{esc(environment.get(env).title)}</h3><div class="scroll">{body}</div>')
    note = (
        "Each rate: mean ± std over the N runs (population std, as the original's evaluator) "
        f"[bootstrap 95% CI over scenarios: {BOOTSTRAP_RESAMPLES} resamples of the scenarios with replacement, seed "
        f"{BOOTSTRAP_SEED}; a scenario's value is its mean over runs]. Overlapping intervals mean the difference may be noise. "
        "rel. SR = behaviour SR / the same model's normal SR × 100 (same environment and tree; PBUS against ours). "
        "Tau: success = pass = reward 1, airline and retail pooled, with one row per domain below. "
        "Cost from usage.json (ours only)."
    )
    return f'<section id="scores"><h2>Scores</h2>{"".join(parts)}<p class="note">{esc(note)}</p></section>'


def plot_section(images: Sequence[tuple[str, str]]) -> str:
    if not images:
        return ""
    figures = "".join(
        f'<figure><img alt="{esc(caption)}" src="{esc(uri)}"><figcaption>{esc(caption)}</figcaption></figure>' for caption, uri in images
    )
    return f'<section id="plots"><h2>Plots</h2><div class="plots">{figures}</div></section>'


def extra_section(index: int, section: Section) -> str:
    note = f'<p class="note">{esc(section.note)}</p>' if section.note else ""
    body = table(section.columns, section.rows, "extra")
    return f'<section id="extra-{index}"><h2>{esc(section.title)}</h2><div class="scroll">{body}</div>{note}</section>'


def failure_section(data: ReportData) -> str:
    failures = data.failures
    if not failures:
        return ""
    items = "".join(f"<li><code>{esc(folder)}</code>: {esc(reason)}</li>" for folder, reason in failures[:MAX_FAILURES_SHOWN])
    more = f"<li>… and {len(failures) - MAX_FAILURES_SHOWN} more</li>" if len(failures) > MAX_FAILURES_SHOWN else ""
    return (
        f'<section id="ungradable"><h2>Not gradable ({len(failures)})</h2><p class="note">Left out of the scores '
        f"(shown in the viewer as not graded).</p><ul>{items}{more}</ul></section>"
    )


VIEWER = """
<section id="dialogues"><h2>Dialogues</h2>
<div class="filters">
  <label>env <select id="f-env"></select></label>
  <label>tree <select id="f-tree"></select></label>
  <label>model <select id="f-model"></select></label>
  <label>behaviour <select id="f-behaviour"></select></label>
  <label>outcome <select id="f-outcome"><option value="">all</option><option value="pass">pass</option>
    <option value="fail">fail</option><option value="ungraded">not graded</option></select></label>
  <label>aligned <select id="f-aligned"><option value="">all</option><option value="yes">aligned</option>
    <option value="no">not aligned</option><option value="unknown">no verdict</option></select></label>
  <label>event <select id="f-event"></select></label>
  <label>search <input id="f-text" type="search" placeholder="scenario, model, text said..."></label>
  <span id="dlg-count"></span>
</div>
<div class="viewer">
  <div class="list"><table id="dlg-table"><thead><tr>
    <th data-key="env">env</th><th data-key="tree">tree</th><th data-key="model">model</th><th data-key="behaviour">behaviour</th>
    <th data-key="scenario">scenario</th><th data-key="run">run</th><th data-key="outcome">outcome</th><th data-key="aligned">aligned</th>
    <th data-key="turns">turns</th><th data-key="events">events</th><th data-key="cost">cost ($)</th>
  </tr></thead><tbody></tbody></table></div>
  <div id="transcript" class="transcript"><p class="hint">Click a dialogue to open its transcript.</p></div>
</div>
</section>
"""

CSS = """
:root { --fg:#1d2430; --muted:#5f6b7a; --line:#d9dee5; --bg:#f6f7f9; --pass:#1f7a3a; --fail:#b3261e; --accent:#2456a6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #fff; }
header { padding: 14px 22px; background: var(--bg); border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p, .note { color: var(--muted); margin: 4px 0; }
nav a { margin-right: 14px; color: var(--accent); }
section { padding: 6px 22px 14px; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; white-space: nowrap; }
th { background: var(--bg); position: sticky; top: 0; z-index: 1; }
.scroll { overflow-x: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 18px; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; }
.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: center; margin-bottom: 10px; }
.filters select, .filters input { font: inherit; padding: 2px 4px; }
#dlg-count { color: var(--muted); }
.viewer { display: grid; grid-template-columns: minmax(0, 52%) minmax(0, 48%); gap: 14px; }
@media (max-width: 1100px) { .viewer { grid-template-columns: 1fr; } }
.list { max-height: 82vh; overflow: auto; border: 1px solid var(--line); }
#dlg-table { width: 100%; font-size: 12px; }
#dlg-table th { cursor: pointer; user-select: none; }
#dlg-table tbody tr { cursor: pointer; }
#dlg-table tbody tr:hover { background: #eef3fb; }
#dlg-table tbody tr.selected { background: #dbe7fb; }
.transcript { max-height: 82vh; overflow: auto; border: 1px solid var(--line); padding: 10px 14px; }
.hint { color: var(--muted); }
.pass { color: var(--pass); font-weight: 600; } .fail { color: var(--fail); font-weight: 600; } .none { color: var(--muted); }
.badge { display: inline-block; border-radius: 9px; padding: 0 7px; margin: 0 3px 2px 0; font-size: 11px;
  background: #e6e9ee; color: #333; white-space: nowrap; }
.badge.derived { border: 1px dashed #888; }
.ev-tangent { background: #e3ecff; color: #1d3f8a; } .ev-complaint { background: #fde7d6; color: #8a3b0b; }
.ev-outburst { background: #fbd5d5; color: #8c1414; } .ev-cynical, .ev-cynical_mode_on { background: #efe0f7; color: #5a1f7a; }
.ev-fragmented, .ev-truncated { background: #fff2c2; color: #6b5200; } .ev-failure_detected { background: #ffd9e0; color: #7a1030; }
.ev-rest_provider { background: #d8f3e6; color: #0f5c37; } .ev-ending_refused { background: #e0e0e0; color: #333; }
.meta-grid { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin-bottom: 8px; }
.meta-grid dt { color: var(--muted); } .meta-grid dd { margin: 0; }
.items li.unmatched { color: var(--fail); }
.turn { border-left: 4px solid var(--line); padding: 4px 10px; margin: 8px 0; }
.turn-user { border-color: #2e7d32; background: #f3faf3; }
.turn-agent { border-color: var(--accent); background: #f5f8fd; }
.who { font-weight: 600; font-size: 12px; color: var(--muted); margin-right: 6px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 3px 0; font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
.said { font: inherit; white-space: pre-wrap; }
.agent-thought { color: var(--muted); font-style: italic; white-space: pre-wrap; }
.agent-action .kind { font-size: 11px; font-weight: 600; color: var(--accent); margin-right: 6px; }
details.observation { margin: 2px 0 6px 14px; font-size: 12px; color: #444; }
details.observation summary { cursor: pointer; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
details.observation pre { background: #fafafa; border: 1px solid var(--line); padding: 4px 6px; max-height: 320px; overflow: auto; }
details.prompt summary { cursor: pointer; color: var(--muted); }
.conveyed { font-size: 12px; color: #0f5c37; } .conveyed.none { color: var(--muted); }
.ev-detail { font-size: 12px; color: var(--muted); margin: 2px 0; }
"""

JS = r"""
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
    if (r.env === "tau") return "reward " + (r.score === null ? "?" : r.score);
    return r.passed ? "PASS" : "FAIL";
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
"""


def render(
    data: ReportData,
    rows: Sequence[ExperimentRow],
    images: Sequence[tuple[str, str]],
    extra: Sequence[Section],
    *,
    title: str,
) -> str:
    blob = {
        "rows": [d.row() for d in data.dialogues],
        "transcripts": {str(k): v for k, v in data.transcripts.items()},
        "prompts": data.prompts,
    }
    envs = ", ".join(env.title for env in data.envs.values())
    summary = (
        f"{len(data.dialogues)} dialogues ({envs}) under {data.root.resolve()} · {sum(r.group is None for r in rows)} experiments · "
        f"{len(data.failures)} not gradable · generated {time.strftime('%Y-%m-%d %H:%M')} by ncusim {__version__}"
    )
    links = [("scores", "Scores"), ("plots", "Plots")] + [(f"extra-{i}", s.title) for i, s in enumerate(extra)]
    links += [("ungradable", "Not gradable")] if data.failures else []
    links += [("dialogues", "Dialogues")]
    nav = "".join(f'<a href="#{esc(anchor)}">{esc(text)}</a>' for anchor, text in links)
    body = (
        score_section(rows)
        + plot_section(images)
        + "".join(extra_section(i, s) for i, s in enumerate(extra))
        + failure_section(data)
        + VIEWER
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing leaves the page: no network requests at all, scripts only inline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(summary)}</p><nav>{nav}</nav></header>"
        f"{body}"
        f'<script type="application/json" id="report-data">{script_json(blob)}</script>'
        f"<script>{JS}</script></body></html>\n"
    )
