"""Charts drawn on the server as SVG: accessible (role="img", a title and a description,
a data table beside each) and printable (no script, plain fills that survive greyscale).
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 80
ROW = 30


def bar_chart(chart_id: str, title: str, description: str, rows: list[tuple[str, float | None, float | None]],
              fmt=str, previous_label: str = "") -> Markup:
    """Horizontal bars: each row's current value (dark) over its previous one (light, thinner)."""
    values = [v for _label, cur, prev in rows for v in (cur, prev) if v is not None]
    top = max(values) if values and max(values) > 0 else 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = ROW * len(rows) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet" data-testid="{chart_id}">',
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             f'<desc id="{chart_id}-desc">{escape(description)}</desc>']
    for i, (label, cur, prev) in enumerate(rows):
        y = i * ROW + 4
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'{escape(label)}</text>')
        if cur is not None:
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{span * cur / top:.1f}" height="16" '
                         f'class="chart-bar"><title>{escape(label)}: {escape(fmt(cur))}</title></rect>')
        if prev is not None:
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 18}" width="{span * prev / top:.1f}" height="6" '
                         f'class="chart-bar-previous"><title>{escape(previous_label)} {escape(label)}: '
                         f'{escape(fmt(prev))}</title></rect>')
        parts.append(f'<text x="{WIDTH - VALUE_WIDTH + 6}" y="{y + 15}" class="chart-value">'
                     f'{escape(fmt(cur))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text and attribute value above is escaped)


def column_chart(chart_id: str, title: str, description: str, columns: list[tuple[str, float]],
                 label_every: int = 4) -> Markup:
    """Vertical columns (one per interval of a day), labelled every ``label_every`` columns."""
    height, base = 220, 190
    top = max((v for _l, v in columns), default=0) or 1
    step = (WIDTH - 40) / max(len(columns), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'data-testid="{chart_id}">',
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
             f'<text x="2" y="12" class="chart-value">{top:g}</text>',
             f'<line x1="30" y1="{base}" x2="{WIDTH}" y2="{base}" class="chart-axis"/>']
    for i, (label, value) in enumerate(columns):
        x = 32 + i * step
        h = (base - 20) * value / top
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                     f'class="chart-bar"><title>{escape(label)}: {value:g}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 16}" class="chart-label">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text and attribute value above is escaped)
