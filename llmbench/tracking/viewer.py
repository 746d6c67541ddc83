"""The per-sample viewer: every (item, model, epoch) with its prompt, answer, score, cost, latency, attempts and error,
filterable by experiment, model, task, score and error, and two models' answers to one item side by side; with a
change filter, the regression view: model A's samples where model B's answer to the same item flipped from right to
wrong or back, newly failed or changed score (as `llmbench diff` names the changes).

One self-contained HTML page (`llmbench view`), or a section of the report; the data is embedded as JSON and drawn
with a few lines of plain JavaScript that only ever sets `textContent` (model output is never parsed as HTML).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["sample_records", "viewer_page", "viewer_section", "write_viewer"]

MAX_TEXT = 20_000  # characters of a prompt or answer kept per sample


def _clean(value: Any) -> Any:
    """JSON-ready: NA to None, numpy scalars to Python, long text cut."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # lists and dicts are not NA
        pass
    return value.item() if hasattr(value, "item") else value


def sample_records(
    runs: pd.DataFrame,
    calls: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    *,
    scores: pd.DataFrame | None = None,
    limit: int = 50_000,
) -> list[dict[str, Any]]:
    """One record per row of the runs frame (the first `limit`), with its attempts from `calls`, its reference
    from `items` and the scorer's explanation from `scores` when given."""
    attempts: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    if calls is not None and len(calls):
        cols = [
            c
            for c in (
                "attempt",
                "error_class",
                "error_message",
                "status_code",
                "latency_s",
                "cost_usd",
                "attempt_model",
            )
            if c in calls.columns
        ]
        for key, frame in calls.groupby(["experiment", "item_id", "model_id", "epoch"], sort=False):
            attempts[(str(key[0]), str(key[1]), str(key[2]), int(str(key[3])))] = [
                {str(c): _clean(v) for c, v in row.items()} for row in frame[cols].to_dict("records")
            ]
    references: dict[tuple[str, str], Any] = {}
    if items is not None and len(items) and "reference" in items.columns:
        for row in items[["experiment", "item_id", "reference"]].to_dict("records"):
            ref = row["reference"]
            references[(str(row["experiment"]), str(row["item_id"]))] = (
                json.loads(ref) if isinstance(ref, str) else ref
            )
    reasons: dict[tuple[str, str, str, int], Any] = {}
    if scores is not None and len(scores) and "explanation" in scores.columns:
        primary = scores[scores["is_primary"]] if "is_primary" in scores.columns else scores
        for r in primary[["experiment", "item_id", "model_id", "epoch", "explanation"]].to_dict("records"):
            reasons[(str(r["experiment"]), str(r["item_id"]), str(r["model_id"]), int(r["epoch"]))] = r[
                "explanation"
            ]
    out = []
    for row in runs.head(limit).to_dict("records"):
        key = (
            str(row.get("experiment", "")),
            str(row["item_id"]),
            str(row["model"]),
            int(row.get("epoch") or 0),
        )
        reference = references.get(key[:2])
        out.append(
            {
                "experiment": key[0],
                "item": key[1],
                "model": key[2],
                "epoch": key[3],
                "task": _clean(row.get("task")),
                "prompt": _clean(row.get("prompt")),
                "answer": _clean(row.get("response")),
                "score": _clean(row.get("score")),
                "why": _clean(reasons.get(key)),
                "cost": _clean(row.get("cost_usd")),
                "latency": _clean(row.get("latency_s")),
                "error": _clean(row.get("error")),
                "reference": reference
                if isinstance(reference, str | int | float | type(None))
                else json.dumps(reference)[:MAX_TEXT],
                "attempts": attempts.get(key, []),
            }
        )
    return out


_CSS = """
.viewer { font-size: 0.85rem; }
.viewer .filters { display: flex; flex-wrap: wrap; gap: 0.6rem 1.2rem; align-items: center; margin: 0.5rem 0 0.8rem; }
.viewer .filters label { white-space: nowrap; }
.viewer .list { max-height: 420px; overflow: auto; border: 1px solid #ddd; }
.viewer table { border-collapse: collapse; width: 100%; table-layout: fixed; }
.viewer th, .viewer td { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.viewer th { position: sticky; top: 0; background: #f4f4f4; cursor: pointer; user-select: none; }
.viewer td:nth-child(1), .viewer td:nth-child(2) { white-space: normal; overflow-wrap: anywhere; }
.viewer tr.sample { cursor: pointer; } .viewer tr.sample:hover { background: #f0f6ff; }
.viewer tr.failed td { color: #b00020; } .viewer tr.chosen { background: #e3efff; }
.viewer .detail { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-top: 1rem; }
.viewer .detail pre { white-space: pre-wrap; word-break: break-word; background: #fafafa; border: 1px solid #eee;
  padding: 0.5rem; max-height: 320px; overflow: auto; margin: 0.2rem 0 0.6rem; }
.viewer .muted { color: #666; }
"""

_JS = r"""
(function () {
  const root = document.currentScript.parentElement;
  const data = JSON.parse(root.querySelector("script.samples").textContent);
  const LIMIT = 2000;  // rows drawn at once; the count line says when more match
  const $ = (sel) => root.querySelector(sel);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null)
    e.textContent = String(text); if (cls) e.className = cls; return e; };
  const fmt = (v, d) => v === null || v === undefined ? "–" : Number(v).toFixed(d);
  const uniq = (key) => [...new Set(data.map((r) => r[key]).filter((v) => v !== null))].sort();
  function fill(select, values, all) { select.append(el("option", all, "")); values.forEach((v) => {
    const o = el("option", v); o.value = v; select.append(o); }); select.options[0].value = ""; }
  fill($(".f-experiment"), uniq("experiment"), "all experiments");
  fill($(".f-model"), uniq("model"), "all models");
  fill($(".f-task"), uniq("task"), "all tasks");
  // what is compared is a run: a model, or with several experiments an experiment's model (two runs of one
  // experiment file with a changed model are two experiments)
  const several = uniq("experiment").length > 1;
  data.forEach((r) => { r.run = several ? r.experiment + " \u00b7 " + r.model : r.model; });
  ["a", "b"].forEach((side, i) => { const s = $(".cmp-" + side); uniq("run").forEach((m) => {
    const o = el("option", m); o.value = m; s.append(o); }); s.selectedIndex = Math.min(i, s.options.length - 1); });
  let chosen = null;
  let sortKey = null, sortDir = 1;
  const columns = ["item", "model", "epoch", "task", "score", "why", "cost", "latency", "tries", "error", "answer"];
  root.querySelectorAll("th").forEach((th, i) => th.addEventListener("click", () => {
    const k = columns[i]; sortDir = sortKey === k ? -sortDir : 1; sortKey = k; render(); }));
  const valueOf = (r, k) => k === "tries" ? (r.attempts.length || 1) : r[k];
  function compare(a, b) {
    const x = valueOf(a, sortKey), y = valueOf(b, sortKey);
    if (x === y) return 0; if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir;
  }
  // the regression view: run A's samples against run B's answer to the same item and epoch (and experiment,
  // when both runs are models of one experiment)
  const key = (r, run) => [several ? "" : r.experiment, r.item, r.epoch, run].join("\u0001");
  const byKey = new Map(data.map((r) => [key(r, r.run), r]));
  function change(a, b) {
    if (!b) return "only in A";
    if (b.error && !a.error) return "new failure";
    if (a.error && !b.error) return "fixed failure";
    const ra = a.score !== null && a.score >= 0.5, rb = b.score !== null && b.score >= 0.5;
    if (ra && !rb) return "right to wrong";
    if (!ra && rb && a.score !== null) return "wrong to right";
    return a.score !== b.score ? "score changed" : "same";
  }
  function diffCounts() {
    const a = $(".cmp-a").value, b = $(".cmp-b").value, counts = {};
    data.filter((r) => r.run === a).forEach((r) => { const c = change(r, byKey.get(key(r, b)));
      counts[c] = (counts[c] || 0) + 1; });
    $(".diff-count").textContent = a + " -> " + b + ": " + (Object.entries(counts).filter(([c]) => c !== "same")
      .map(([c, n]) => n + " " + c).join(", ") || "no change");
  }
  function passes(r) {
    const f = (c) => $(c).value;
    const d = f(".f-diff");
    if (d) {
      if (r.run !== f(".cmp-a")) return false;
      const c = change(r, byKey.get(key(r, f(".cmp-b"))));
      if (d === "any change" ? c === "same" : c !== d) return false;
    }
    if (f(".f-experiment") && r.experiment !== f(".f-experiment")) return false;
    if (f(".f-model") && r.model !== f(".f-model")) return false;
    if (f(".f-task") && r.task !== f(".f-task")) return false;
    const s = f(".f-score");
    if (s === "right" && !(r.score >= 1)) return false;
    if (s === "wrong" && !(r.score !== null && r.score < 1)) return false;
    if (s === "unscored" && r.score !== null) return false;
    if ($(".f-errors").checked && !r.error && !r.attempts.some((a) => a.error_class)) return false;
    const q = f(".f-search").toLowerCase();
    if (q && ![r.item, r.prompt, r.answer, r.error].some((t) => t && String(t).toLowerCase().includes(q))) return false;
    return true;
  }
  function render() {
    const body = $("tbody"); body.replaceChildren();
    const shown = data.filter(passes);
    if (sortKey) shown.sort(compare);
    $(".count").textContent = shown.length + " of " + data.length + " samples" + (shown.length > LIMIT ?
      " (the first " + LIMIT + " listed: narrow the filters or sort to see others)" : "");
    shown.slice(0, LIMIT).forEach((r) => {
      const tr = el("tr", undefined, "sample" + (r.error ? " failed" : "") + (chosen === r ? " chosen" : ""));
      [r.item, r.model, r.epoch, r.task, fmt(r.score, 2), r.why || "", r.cost === null ? "–" : "$" + Number(r.cost).toPrecision(3),
       fmt(r.latency, 2), r.attempts.length || 1, r.error || "", r.answer || ""].forEach((v) => {
        const td = el("td", v); td.title = td.textContent; tr.append(td); });
      tr.addEventListener("click", () => { chosen = r; show(r); render(); });
      body.append(tr);
    });
  }
  function block(parent, title, text) { parent.append(el("div", title, "muted")); parent.append(el("pre", text ?? "–")); }
  function show(r) {
    const d = $(".detail"); d.replaceChildren();
    const left = el("div"); const right = el("div"); d.append(left, right);
    left.append(el("h4", r.item + " · " + r.model + (r.task ? " · " + r.task : "")));
    block(left, "prompt", r.prompt); block(left, "reference", r.reference);
    block(left, "answer (score " + fmt(r.score, 2) + ")", r.answer);
    block(left, "why this score", r.why || (r.score === null ? "not scored" : "the scorer gave no reason"));
    const tries = r.attempts.map((a) => "attempt " + a.attempt + ": " + (a.error_class ? a.error_class + " " +
      (a.status_code || "") + " " + (a.error_message || "") : "ok") + (a.attempt_model ? " [" + a.attempt_model + "]" : ""));
    block(left, "attempts", tries.join("\n") || "one attempt");
    if (r.error) block(left, "error", r.error);
    right.append(el("h4", "side by side on " + r.item));
    ["a", "b"].forEach((side) => { const m = $(".cmp-" + side).value;
      const other = byKey.get(key(r, m));
      block(right, m + (other ? " (score " + fmt(other.score, 2) + ")" : " (no answer)"), other ? other.answer : "");
    });
  }
  root.querySelectorAll("select, input").forEach((c) => c.addEventListener("input", () => { render(); diffCounts();
    if (chosen) show(chosen); }));
  render(); diffCounts();
})();
"""


def viewer_section(records: list[dict[str, Any]]) -> str:
    """The viewer as an embeddable block (styles, filters, list, detail) with its data."""
    payload = json.dumps(records, ensure_ascii=False, default=str).replace("</", "<\\/")
    return (
        f"<div class='viewer'><style>{_CSS}</style>"
        "<div class='filters'><select class='f-experiment'></select><select class='f-model'></select>"
        "<select class='f-task'></select><select class='f-score'><option value=''>any score</option>"
        "<option value='right'>right (1)</option><option value='wrong'>wrong (&lt; 1)</option>"
        "<option value='unscored'>unscored</option></select>"
        "<label><input type='checkbox' class='f-errors'> failed or retried only</label>"
        "<input type='search' class='f-search' placeholder='search prompt, answer, error'>"
        "<label>compare <select class='cmp-a'></select> with <select class='cmp-b'></select></label>"
        "<select class='f-diff'><option value=''>every sample</option><option>any change</option>"
        "<option>right to wrong</option><option>wrong to right</option><option>new failure</option>"
        "<option>fixed failure</option><option>score changed</option></select>"
        "<span class='count muted'></span> <span class='diff-count muted'></span></div>"
        "<div class='list'><table><colgroup><col style='width:12%'><col style='width:12%'><col style='width:5.5%'>"
        "<col style='width:7%'><col style='width:5%'><col style='width:12%'><col style='width:7%'><col style='width:6.5%'>"
        "<col style='width:4%'><col style='width:10%'><col></colgroup><thead><tr><th>item</th><th>model</th>"
        "<th>epoch</th><th>task</th><th>score</th><th>why</th><th>cost</th><th>time (s)</th><th>tries</th><th>error</th>"
        "<th>answer</th></tr></thead><tbody></tbody></table></div>"
        "<div class='detail'><p class='muted'>Click a sample for its prompt, answer, attempts and the two compared "
        "models' answers side by side.</p></div>"
        f"<script type='application/json' class='samples'>{payload}</script><script>{_JS}</script></div>"
    )


def viewer_page(records: list[dict[str, Any]], title: str) -> str:
    """A standalone HTML page with the viewer."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body {{ font-family: system-ui, sans-serif; margin: 1.5rem; "
        f"color: #222; }}</style></head><body><h1>{html.escape(title)}</h1>{viewer_section(records)}</body></html>\n"
    )


def write_viewer(path: str | Path, records: list[dict[str, Any]], title: str = "llmbench samples") -> Path:
    """Write the standalone viewer page; returns its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(viewer_page(records, title), encoding="utf-8")
    return out
