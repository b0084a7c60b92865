"""The claims report: ``DIR/claims.json`` and ``DIR/claims.html``.

``claims.json`` (format 1)::

    {"kind": "repdrift-claims", "format": 1, "scale": "quick", "generated": "<ISO time>",
     "repdrift": "<version>",
     "computed_on": [{"on": "<processor or device, threads, JAX, repdrift>", "runs": n}, ...],
     "counts": {"reproduced": n, ...},
     "claims": [{"id": "C1", "claim": "...", "measured": "...", "published": "...",
                 "verdict": "reproduced" | "partly" | "not reproduced" | "not checked",
                 "why": "...", "values": {...}, "evidence": ["figures/fig2/loss.png", ...]},
                ...],
     "figures": {"fig2": {"title": "...", "results": "results/fig2.json",
                          "files": [...]}, ...}}

``computed_on`` counts the runs (and sweeps' runs) the figures came from by where their
steps were computed (:func:`repdrift.runs.computed_places`). ``evidence`` lists the runs,
sweeps and analyses a claim came from (``runs/…``, ``sweeps/…``, ``data/…``), the PNGs
and data tables of its figures and their numbers
(``results/<figure>.json``); paths are relative to ``DIR``. ``claims.html`` is one
self-contained file: the claims table, then every figure with its PNG images inlined
(base64), its data files and its numbers; no external style sheet, script or image, so it
opens offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from repdrift import store
from repdrift.experiments.claims import VERDICTS
from repdrift.experiments.workspace import Workspace, plain
from repdrift.runs import computed_places

FORMAT_VERSION = 1
_COLOURS = {
    "reproduced": "#1a7f37",
    "partly": "#9a6700",
    "not reproduced": "#cf222e",
    "not checked": "#57606a",
}


def evidence_paths(
    ws: Workspace,
    figures: Sequence[str],
    results: Mapping[str, Mapping[str, Any] | None],
    patterns: Sequence[str] = (),
) -> list[str]:
    """What backs a claim: of its figures' sources (the runs, sweeps and analyses) and
    files (PNGs and data tables), those matching ``patterns`` (globs relative to the
    workspace; all when empty), and the figures' numbers — each path once."""
    out: list[str] = []
    for figure in figures:
        r = results.get(figure)
        if not r:
            continue
        found = list(r.get("sources", [])) + [
            f for f in r.get("files", []) if not f.endswith(".pdf")
        ]
        out += [f for f in found if not patterns or any(fnmatch(f, p) for p in patterns)]
        out.append(ws.relative(ws.results_path(figure)))
    return list(dict.fromkeys(out))


def build(
    ws: Workspace,
    claims: list[dict[str, Any]],
    results: Mapping[str, Mapping[str, Any] | None],
    titles: Mapping[str, str],
) -> dict[str, Any]:
    """The ``claims.json`` document."""
    from repdrift import __version__

    entries = []
    for c in claims:
        entry = {
            k: c[k] for k in ("id", "claim", "measured", "published", "verdict", "why", "values")
        }
        entry["evidence"] = evidence_paths(
            ws, c["figures"], results, c.get("evidence_patterns", ())
        )
        entries.append(entry)
    counts = {v: sum(1 for c in claims if c["verdict"] == v) for v in VERDICTS}
    figures = {
        name: {
            "title": titles[name],
            "results": ws.relative(ws.results_path(name)),
            "files": list(r.get("files", [])),
        }
        for name, r in results.items()
        if r
    }
    return plain(
        {
            "kind": "repdrift-claims",
            "format": FORMAT_VERSION,
            "scale": ws.scale,
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "repdrift": __version__,
            "computed_on": computed_places(_source_runs(ws, results)),
            "counts": counts,
            "claims": entries,
            "figures": figures,
        }
    )


def _source_runs(ws: Workspace, results: Mapping[str, Mapping[str, Any] | None]) -> list[Path]:
    """The stored runs the figures came from: their runs, and their sweeps' runs."""
    found: list[Path] = []
    for r in results.values():
        for source in (r or {}).get("sources", []):
            path = ws.root / source
            if store.is_run(path):
                found.append(path)
            elif (path / "runs").is_dir():
                found += sorted(p for p in (path / "runs").iterdir() if store.is_run(p))
    return list(dict.fromkeys(found))


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(path.name)}</figcaption></figure>"
    )


def _numbers(value: Any) -> str:
    text = json.dumps(value, indent=1, ensure_ascii=False)
    if len(text) > 20_000:
        text = text[:20_000] + "\n…"
    return f"<details><summary>numbers</summary><pre>{html.escape(text)}</pre></details>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#1f2328;line-height:1.45}
table{border-collapse:collapse;width:100%;font-size:0.92em}
th,td{border:1px solid #d0d7de;padding:0.4em 0.6em;vertical-align:top;text-align:left}
th{background:#f6f8fa}
.verdict{font-weight:600;white-space:nowrap}
img{max-width:100%;border:1px solid #eee}
figure{margin:1em 0}
figcaption{font-size:0.85em;color:#57606a}
pre{background:#f6f8fa;padding:0.8em;overflow:auto;font-size:0.8em}
.why{color:#57606a;font-size:0.9em}
code{font-size:0.9em}
"""


def render_html(
    doc: Mapping[str, Any], ws: Workspace, results: Mapping[str, Mapping[str, Any] | None]
) -> str:
    """``claims.html`` of a ``claims.json`` document (images read from ``ws``)."""
    esc = html.escape
    counts = ", ".join(f"{n} {v}" for v, n in doc["counts"].items() if n)
    rows = []
    for c in doc["claims"]:
        colour = _COLOURS[c["verdict"]]
        evidence = "<br>".join(f"<code>{esc(p)}</code>" for p in c["evidence"][:8])
        if len(c["evidence"]) > 8:
            evidence += f"<br>… and {len(c['evidence']) - 8} more (claims.json)"
        rows.append(
            f"<tr id='{esc(c['id'])}'><td><b>{esc(c['id'])}</b></td><td>{esc(c['claim'])}</td>"
            f"<td>{esc(c['published'])}</td><td>{esc(c['measured'])}"
            f"<div class='why'>{esc(c['why'])}</div></td>"
            f"<td class='verdict' style='color:{colour}'>{esc(c['verdict'])}</td>"
            f"<td>{evidence}</td></tr>"
        )
    places = "; ".join(
        f"{esc(p['on'])} ({p['runs']:,} run{'' if p['runs'] == 1 else 's'})"
        for p in doc.get("computed_on", [])
    )
    where = f"<p>Computed on {places}; a run's last digits depend on it.</p>" if places else ""
    sections = []
    for name, fig in doc["figures"].items():
        folder = ws.root / "figures" / name
        images = sorted(folder.rglob("*.png")) if folder.is_dir() else []
        data = [f for f in fig["files"] if f.endswith((".parquet", ".csv", ".zarr"))]
        sections.append(
            f"<h2 id='{esc(name)}'>{esc(fig['title'])}</h2>"
            + "".join(_image(p) for p in images)
            + (
                "<p>Data: " + ", ".join(f"<code>{esc(d)}</code>" for d in data) + "</p>"
                if data
                else ""
            )
            + _numbers({k: v for k, v in (results.get(name) or {}).items() if k != "files"})
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>repdrift: the paper's claims, checked</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Representational drift as a result of implicit regularization — the claims, "
        "checked</h1>"
        "<p>Ratzon, Derdikman &amp; Barak (2024), eLife 13:RP90069, reproduced with repdrift "
        f"{esc(doc['repdrift'])} at <b>{esc(doc['scale'])}</b> scale on {esc(doc['generated'])}. "
        f"Verdicts: {esc(counts)}. Numbers and paths are in <code>claims.json</code>; every "
        "path is relative to this folder.</p>"
        f"{where}"
        "<table><tr><th>id</th><th>claim</th><th>published</th><th>measured (and the "
        "criterion)</th><th>verdict</th><th>evidence</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(sections)
        + "</body></html>"
    )


def write(
    ws: Workspace,
    claims: list[dict[str, Any]],
    results: Mapping[str, Mapping[str, Any] | None],
    titles: Mapping[str, str],
) -> tuple[Path, Path]:
    """Write ``claims.json`` and ``claims.html`` into the workspace; return their paths."""
    doc = build(ws, claims, results, titles)
    json_path = ws.root / "claims.json"
    html_path = ws.root / "claims.html"
    store.atomic_write_text(
        json_path, json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)
    )
    store.atomic_write_text(html_path, render_html(doc, ws, results))
    return json_path, html_path
