"""``cascade report RUN_DIR --html``: one self-contained page (no server, no external files).

Tables, every figure as a PNG data URI, the eval matrix, and per stage its resolved config
(``run_dir/config.yaml``, shared trainer keys merged under the stage's) and its "recipe in
effect" (the manifest stage entry's ``recipe``).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import yaml

from cascade.report import eval_matrix
from cascade.report.figures import save_png
from cascade.report.summary import COLUMNS, summary_rows

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1500px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.notes{color:#a15c00;max-width:38em}img{max-width:100%;border:1px solid #eee}
.stage{display:flex;gap:2em;align-items:flex-start}.stage>div{min-width:18em}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}details{margin:.3em 0 1em}h2{margin-top:1.6em}
"""


def _cls(name: str | None) -> str:
    return f' class="{name}"' if name else ""


def table(header: list[str], rows: list[list[str]], classes: dict[str, str] | None = None) -> str:
    classes = classes or {}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{_cls(classes.get(h))}>{html.escape(str(v))}</td>" for h, v in zip(header, row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def stage_configs(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each stage's entry of the resolved config, with the shared ``trainer`` section merged under it."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    shared = data.get("trainer") or {}
    out = {}
    for stage in data.get("stages") or []:
        out[stage["name"]] = {**stage, "trainer": {**shared, **(stage.get("trainer") or {})}}
    return out


def _recipe(recipe: Any) -> str:
    if isinstance(recipe, dict):
        return table(["switch", "in effect"], [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in recipe.items()])
    return f"<pre>{html.escape(json.dumps(recipe, indent=1, default=str))}</pre>"


def render(run_dir: Path, manifest: dict[str, Any], figures: list[tuple[str, str, bytes | None]]) -> str:
    """The page's HTML text; ``figures`` are (stem, title, PNG bytes or None) in page order."""
    run_dir = Path(run_dir)
    rows = summary_rows(run_dir, manifest)
    parts = [f"<h1>Cascade report: {html.escape(run_dir.name)}</h1>", "<h2>Summary</h2>",
             table(list(COLUMNS), [[r[c] for c in COLUMNS] for r in rows], {"notes": "notes"})]
    matrix = eval_matrix.matrix_of(manifest)
    if matrix is not None:
        header, mrows = eval_matrix.table_rows(matrix)
        parts += ["<h2>Eval matrix</h2>", table(header, mrows), f'<img alt="eval matrix" src="{data_uri(save_png(eval_matrix.figure(matrix)))}">']
    for stem, title, png in figures:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append("<p><em>no stage logged these metrics</em></p>" if png is None else f'<img alt="{stem}" src="{data_uri(png)}">')
    configs = stage_configs(run_dir)
    parts.append("<h2>Stages</h2>")
    for name in manifest.get("order", list(manifest.get("stages", {}))):
        entry = manifest.get("stages", {}).get(name, {})
        parts.append(f'<h3>{html.escape(name)}</h3><div class="stage">')
        if name in configs:
            text = yaml.safe_dump(configs[name], sort_keys=False)
            parts.append(f"<div><h4>Resolved config</h4><pre>{html.escape(text)}</pre></div>")
        if "recipe" in entry:
            parts.append(f"<div><h4>Recipe in effect</h4>{_recipe(entry['recipe'])}</div>")
        parts.append("</div>")
    return f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>{"".join(parts)}</body></html>'


def write_html(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` (and report.md with its PNGs, drawn once for both)."""
    from cascade.report.markdown import write_report

    write_report(Path(run_dir), html=True)
    return Path(run_dir) / "report.html"
