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
from importlib import resources
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
    "pass^k (k = 1..N)",
    "rel. SR",
    "cost ($)",
    "not gradable",
)


def pass_hat_cell(row: ExperimentRow) -> str | None:
    """pass^1 .. pass^N, then the interval of pass^N (the k every scenario's trials must all pass)."""
    if not row.pass_hat:
        return None
    last = row.pass_hat[-1]
    return " / ".join(f"{p.value:.1f}" for p in row.pass_hat) + f" [{last.low:.1f}, {last.high:.1f}]"


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
                pass_hat_cell(r),
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
        "pass^k (tau-bench's reliability): per scenario with n trials of which c succeeded, C(c,k)/C(n,k), averaged over "
        "the scenarios with at least k trials; the interval is pass^N's bootstrap over scenarios. "
        "rel. SR = behaviour SR / the same model's normal SR × 100 (same environment and tree; PBUS against ours). "
        "Cost from usage.json (ours only)."
    )
    for env in sorted({r.env for r in rows}):
        note += "".join(f" {environment.get(env).title}: {line}" for line in environment.get(env).table_notes.get("scores", ()))
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


def asset(name: str) -> str:
    """A file of the page (viewer markup, CSS, JS), shipped as package data beside this module."""
    return resources.files("shared.analysis").joinpath("assets", name).read_text(encoding="utf-8")


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
        + asset("viewer.html")
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing leaves the page: no network requests at all, scripts only inline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{asset('report.css')}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(summary)}</p><nav>{nav}</nav></header>"
        f"{body}"
        f'<script type="application/json" id="report-data">{script_json(blob)}</script>'
        f"<script>{asset('report.js')}</script></body></html>\n"
    )
