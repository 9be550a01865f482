"""The quick-look gallery: one static HTML page, ``_quicklook/index.html``, one row per target, with the target's
known objects (name, disposition, training label, or why it has no folded view) beside its plots, whose PNGs hold
each object's folded view.

Everything is inline (CSS, a little JavaScript, no font or script from elsewhere), and every link is relative to
the page, so it works from a local folder, offline, and served from the bucket alike. Filtering (mission,
disposition) and sorting (click a column heading) happen in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from lightcurve_ingest.quicklook.folded import LABEL_TEXT


@dataclass(frozen=True)
class GalleryPlot:
    unit: int | None
    png_href: str  # relative to the page
    fits_href: str


@dataclass(frozen=True)
class GalleryObject:
    """One of the target's planets, KOIs or TOIs."""

    name: str  # "K00072.01 (Kepler-10 b)"
    disposition: str
    label: int | None  # 1 planet, 0 false positive, None candidate
    reason: str = ""  # why its ephemeris cannot be folded; "" when it can


@dataclass(frozen=True)
class GalleryRow:
    mission: str
    target_id: int
    target_label: str  # "EPIC 201367065"
    host: str  # "" when the archive gives none
    disposition: str
    unit_name: str  # "campaign", "quarter", "sector"
    plots: tuple[GalleryPlot, ...]
    objects: tuple[GalleryObject, ...] = ()


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em 2em;color:#222}
h1{font-size:1.3em}.bar{display:flex;gap:1.5em;align-items:center;margin:.8em 0}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;
vertical-align:top}th{cursor:pointer;background:#f4f4f4;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.plots{display:flex;flex-wrap:wrap;gap:.5em}.plot{font-size:.85em;text-align:center}
.plot img{width:200px;height:auto;min-height:120px;display:block;border:1px solid #ccc;background:#fafafa}
tr.folded .plot img{width:320px}
tr[hidden]{display:none}td:not(:last-child){white-space:nowrap}
td.objects{white-space:normal;min-width:12em;max-width:22em}.objects ul{margin:0;padding-left:1em}
.objects .name{font-weight:600}.objects .note{color:#777;font-size:.85em}
"""

SCRIPT = """
(function(){
const rows=[...document.querySelectorAll('tbody tr')];
const mission=document.getElementById('mission'),disposition=document.getElementById('disposition');
const count=document.getElementById('count');
function filter(){let shown=0;for(const r of rows){const ok=(!mission.value||r.dataset.mission===mission.value)&&
(!disposition.value||r.dataset.disposition===disposition.value);r.hidden=!ok;if(ok)shown++;}
count.textContent=shown+' of '+rows.length+' targets';}
mission.addEventListener('change',filter);disposition.addEventListener('change',filter);
document.querySelectorAll('th[data-key]').forEach(th=>th.addEventListener('click',()=>{
const key=th.dataset.key,numeric=th.dataset.numeric==='1';
const dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
document.querySelectorAll('th').forEach(h=>h.removeAttribute('aria-sort'));
th.setAttribute('aria-sort',dir===1?'ascending':'descending');
const value=r=>numeric?Number(r.dataset[key]):r.dataset[key];
rows.sort((a,b)=>{const x=value(a),y=value(b);return (x<y?-1:x>y?1:0)*dir;});
const body=document.querySelector('tbody');rows.forEach(r=>body.appendChild(r));}));
filter();})();
"""

COLUMNS = (("mission", "Mission", False), ("id", "Id", True), ("host", "Host", False),
           ("disposition", "Disposition", False), ("objects", "Objects", True), ("units", "Observing units", True))


def render_gallery(rows: list[GalleryRow], generated_at: str) -> str:
    """The whole page, as text."""
    missions = sorted({r.mission for r in rows})
    dispositions = sorted({r.disposition for r in rows})
    head = "".join(f'<th data-key="{key}" data-numeric="{int(numeric)}">{label}</th>'
                   for key, label, numeric in COLUMNS) + "<th>Quick-look plots</th>"
    body = "\n".join(_row(r) for r in sorted(rows, key=lambda r: (r.mission, r.target_id)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Light-curve quick-looks</title><style>{STYLE}</style></head>
<body><h1>Light-curve quick-looks</h1>
<p>{len(rows)} targets, {sum(len(r.plots) for r in rows)} light curves; written {escape(generated_at)}.
Click a plot for the full PNG, with each known object folded at its period; the FITS link is the light curve
itself.</p>
<div class="bar"><label>Mission {_select("mission", missions)}</label>
<label>Disposition {_select("disposition", dispositions)}</label><span id="count"></span></div>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table><script>{SCRIPT}</script></body></html>
"""


def _select(name: str, values: list[str]) -> str:
    options = "".join(f'<option value="{escape(v)}">{escape(v or "(none)")}</option>' for v in values)
    return f'<select id="{name}"><option value="">all</option>{options}</select>'


def _row(row: GalleryRow) -> str:
    units = sorted(p.unit for p in row.plots if p.unit is not None)
    data = {"mission": row.mission, "id": str(row.target_id), "host": row.host, "disposition": row.disposition,
            "objects": str(len(row.objects)), "units": str(len(row.plots))}
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    unit_text = f"{row.unit_name} {', '.join(map(str, units))}" if units else "-"
    plots = "".join(_plot(row, p) for p in sorted(row.plots, key=lambda p: (p.unit is None, p.unit or 0)))
    folded = ' class="folded"' if any(not o.reason for o in row.objects) else ""  # its PNGs hold folded views
    return (f"<tr {attrs}{folded}><td>{escape(row.mission)}</td><td>{escape(row.target_label)}</td>"
            f"<td>{escape(row.host) or '-'}</td><td>{escape(row.disposition) or '-'}</td>"
            f'<td class="objects">{_objects(row.objects)}</td><td>{unit_text}</td>'
            f'<td><div class="plots">{plots}</div></td></tr>')


def _plot(row: GalleryRow, plot: GalleryPlot) -> str:
    unit = f"{row.unit_name} {plot.unit}" if plot.unit is not None else "light curve"
    return (f'<div class="plot"><a href="{escape(plot.png_href)}"><img src="{escape(plot.png_href)}" '
            f'loading="lazy" alt="{escape(row.target_label)} {unit}"></a>{unit} · '
            f'<a href="{escape(plot.fits_href)}">FITS</a></div>')


def _objects(objects: tuple[GalleryObject, ...]) -> str:
    if not objects:
        return "-"
    items = "".join(
        f'<li class="object" data-object="{escape(o.name)}" data-label="{"" if o.label is None else o.label}">'
        f'<span class="name">{escape(o.name)}</span> · {escape(o.disposition) or "no disposition"} · '
        f'{LABEL_TEXT[o.label]}'
        + (f'<br><span class="note">not folded: {escape(o.reason)}</span>' if o.reason else "") + "</li>"
        for o in objects)
    return f"<ul>{items}</ul>"
