"""The drift-over-time chart of `c360 reconcile --chart`: one HTML file, an inline SVG, no script or asset to fetch.

One small panel per attribute (customers whose record in each system differs from the
survivorship value, one line per system, and the customers drifted in any system),
and one of the scores. The series are also embedded as JSON (`<script type="application/json"
id="c360-drift-series">`) and as a table, for people with a screen reader and for scripts.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from resolvers.reconcile import ATTRIBUTES
from xref import ReconcileRunInfo

__all__ = ["chart_series", "render_chart"]

_COLORS: Final[Mapping[str, str]] = {
    "all": "#222222", "sharepoint": "#0b6cbf", "teamwork": "#c2410c", "quickbooks": "#15803d",
    "overall": "#222222",
}
_PALETTE: Final = ("#7c3aed", "#be185d", "#0891b2", "#a16207")
_W, _H, _PAD_L, _PAD_R, _PAD_T, _PAD_B = 330, 200, 42, 12, 26, 46


def chart_series(runs: Sequence[ReconcileRunInfo]) -> dict[str, Any]:
    """{"runs": [{id, started_at, kind}], "attributes": {attr: {"all": [...], system: [...]}}, "scores": {...}}."""
    attributes: dict[str, dict[str, list[int | None]]] = {}
    scores: dict[str, list[float | None]] = {}
    names = [a for run in runs for a in run.summary.get("attributes", {})]
    # Stored summaries come back with sorted keys; the report's order reads better.
    for attribute in sorted(set(names), key=lambda a: (ATTRIBUTES.index(a) if a in ATTRIBUTES else len(ATTRIBUTES), a)):
        systems = sorted({s for run in runs for s in run.summary.get("attributes", {}).get(attribute, {}).get("systems", {})})
        series: dict[str, list[int | None]] = {"all": []}
        for system in systems:
            series[system] = []
        for run in runs:
            found = run.summary.get("attributes", {}).get(attribute)
            series["all"].append(found.get("drifted") if found else None)
            for system in systems:
                series[system].append(found.get("systems", {}).get(system, 0) if found else None)
        attributes[attribute] = series
    checks = [c for run in runs for c in run.summary.get("checks", {})]
    scores["overall"] = [run.overall_score for run in runs]
    for check in dict.fromkeys(checks):
        scores[check] = [run.summary.get("checks", {}).get(check, {}).get("score") for run in runs]
    return {
        "runs": [{"id": r.id, "started_at": r.started_at.isoformat(), "kind": r.kind} for r in runs],
        "attributes": attributes,
        "scores": scores,
    }


def _color(name: str, index: int) -> str:
    return _COLORS.get(name, _PALETTE[index % len(_PALETTE)])


def _panel(title: str, series: Mapping[str, Sequence[float | int | None]], labels: Sequence[str],
           *, percent: bool = False) -> str:
    values = [v for points in series.values() for v in points if v is not None]
    top = 1.0 if percent else max([1, *values])
    n = len(labels)
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def x(i: int) -> float:
        return _PAD_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _PAD_T + plot_h * (1 - v / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
             f'aria-label="{html.escape(title)}">',
             f'<text x="{_PAD_L}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for frac in (0.0, 0.5, 1.0):
        value = top * frac
        label = f"{value:.0%}" if percent else f"{value:,.0f}"
        parts.append(f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     'stroke="#ddd" stroke-width="1"/>')
        parts.append(f'<text x="{_PAD_L - 4}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    for i in sorted({0, n - 1}):
        anchor = "start" if i == 0 else "end"
        parts.append(f'<text x="{x(i):.1f}" y="{_H - 30}" font-size="10" text-anchor="{anchor}">'
                     f'{html.escape(labels[i])}</text>')
    for index, (name, points) in enumerate(series.items()):
        color = _color(name, index)
        coords = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
                         f'<title>{html.escape(name)}</title></polyline>')
        for px, py in coords:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>')
    legend_x = _PAD_L
    for index, name in enumerate(series):
        parts.append(f'<rect x="{legend_x}" y="{_H - 12}" width="8" height="8" fill="{_color(name, index)}"/>'
                     f'<text x="{legend_x + 11}" y="{_H - 5}" font-size="9">{html.escape(name)}</text>')
        legend_x += 14 + 6 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def render_chart(runs: Sequence[ReconcileRunInfo], *, title: str = "c360 data quality: drift over time") -> str:
    """The HTML page; `runs` oldest first."""
    data = chart_series(runs)
    labels = [r.started_at.strftime("%m-%d %H:%M") for r in runs] or ["-"]
    panels = [_panel(f"{attribute}: customers drifted", series, labels) for attribute, series in data["attributes"].items()]
    panels.append(_panel("scores", {k: v for k, v in data["scores"].items() if k in ("overall", "duplicates", "missing")},
                         labels, percent=True))
    header = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    rows = []
    for attribute, series in data["attributes"].items():
        for name, points in series.items():
            cells = "".join(f"<td>{'' if v is None else v}</td>" for v in points)
            rows.append(f"<tr><th>{html.escape(attribute)} · {html.escape(name)}</th>{cells}</tr>")
    cells = "".join(f"<td>{v:.1%}</td>" for v in data["scores"]["overall"])
    rows.append(f"<tr><th>overall score</th>{cells}</tr>")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:20px;color:#222}}
.panels{{display:flex;flex-wrap:wrap;gap:12px}}table{{border-collapse:collapse;margin-top:18px;font-size:12px}}
td,th{{border:1px solid #ddd;padding:2px 6px;text-align:right}}th:first-child{{text-align:left}}</style></head>
<body><h1 style="font-size:18px">{html.escape(title)}</h1>
<p>{len(runs)} run(s). Per attribute: customers whose record in each system differs from the survivorship value;
"all": customers whose linked records disagree in any system. Counts only.</p>
<div class="panels">{"".join(panels)}</div>
<table><tr><th>run</th>{header}</tr>{"".join(rows)}</table>
<script type="application/json" id="c360-drift-series">{payload}</script>
</body></html>
"""
