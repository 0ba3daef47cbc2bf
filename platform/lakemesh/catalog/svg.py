"""The lineage picture on a product page: upstream on the left, downstream on the right, as SVG.

Datasets are laid out in columns by their distance from the product (in job
hops), edges are drawn from the reading side of a dataset to the job's output,
and every product box links to its own page.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from lakemesh.catalog.trees import ProductGraph

__all__ = ["lineage_svg"]

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 34, 70, 14, 10


def _label(name: str) -> str:
    """Products by name, files by their last path segment."""
    short = name.rsplit("/", 1)[-1]
    return short if len(short) <= 26 else short[:25] + "…"


def lineage_svg(graph: ProductGraph, *, link: Callable[[str], str | None]) -> str:
    """An SVG drawing of the graph; `link(name)` gives a dataset's page, or None for datasets without one."""
    levels = sorted(set(graph.datasets.values()))
    columns = {level: sorted(n for n, d in graph.datasets.items() if d == level) for level in levels}
    position = {}
    for x_index, level in enumerate(levels):
        for y_index, name in enumerate(columns[level]):
            position[name] = (MARGIN + x_index * (BOX_W + GAP_X), MARGIN + y_index * (BOX_H + GAP_Y))
    width = MARGIN * 2 + len(levels) * BOX_W + (len(levels) - 1) * GAP_X
    height = MARGIN * 2 + max(len(c) for c in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage of {escape(graph.root)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b"/></marker></defs>',
    ]
    for source, job, target in graph.edges:
        (x1, y1), (x2, y2) = position[source], position[target]
        start, end = (x1 + BOX_W, y1 + BOX_H / 2), (x2, y2 + BOX_H / 2)
        bend = max(abs(end[0] - start[0]) / 2, 30)
        parts.append(
            f'<path class="edge" d="M {start[0]} {start[1]} C {start[0] + bend} {start[1]}, {end[0] - bend} {end[1]}, '
            f'{end[0]} {end[1]}" fill="none" stroke="#64748b" stroke-width="1.5" marker-end="url(#arrow)">'
            f"<title>{escape(source)} → {escape(job)} → {escape(target)}</title></path>"
        )
    for name, (x, y) in sorted(position.items()):
        root = name == graph.root
        fill, stroke = ("#1e3a8a", "#1e3a8a") if root else ("#eff6ff", "#3b82f6")
        text_fill = "#ffffff" if root else "#0f172a"
        box = (
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 5}" text-anchor="middle" font-family="sans-serif" '
            f'font-size="13" fill="{text_fill}">{escape(_label(name))}</text><title>{escape(name)}</title>'
        )
        href = None if root else link(name)
        if href:
            parts.append(f'<a class="node" href="{escape(href)}" data-dataset="{escape(name)}">{box}</a>')
        else:
            parts.append(f'<g class="node" data-dataset="{escape(name)}">{box}</g>')
    parts.append("</svg>")
    return "".join(parts)
