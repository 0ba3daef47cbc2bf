"""The lineage picture on a product page, as SVG: every dataset to the right of its inputs.

Datasets are laid out in columns by the longest chain of inputs before them
(so a model sits between the features it learns from and the predictions it
makes, not beside them), each column as wide as its longest label (nothing is
cut), edges run from a dataset's right side to its reader's left side, and
every product box links to its own page. A registered model is drawn as a
model, with its version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape

from lakemesh.catalog.trees import ProductGraph

__all__ = ["lineage_svg"]

BOX_H, GAP_X, GAP_Y, MARGIN, PAD_X = 44, 56, 14, 10, 10
MIN_BOX_W = 110
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"
FONT_SIZE = 12
CHAR_W = FONT_SIZE * 0.62
"""A monospace character's advance (0.6 em in common monospace fonts), so a box's width fits its label exactly."""


def _label(name: str) -> str:
    """Products and models by name, files by their last path segment."""
    return name.rsplit("/", 1)[-1]


def _columns(names: Iterable[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """Names by column: one more than the column of the furthest of its inputs (cycles stop after one round)."""
    rank = dict.fromkeys(names, 0)
    for _ in range(len(rank)):
        moved = False
        for source, target in edges:
            if source != target and rank[target] <= rank[source]:
                rank[target], moved = rank[source] + 1, True
        if not moved:
            break
    return [sorted(n for n, r in rank.items() if r == column) for column in sorted(set(rank.values()))]


def lineage_svg(graph: ProductGraph, *, link: Callable[[str], str | None]) -> str:
    """An SVG drawing of the graph; `link(name)` gives a dataset's page, or None for datasets without one."""
    columns = _columns(graph.datasets, [(source, target) for source, _job, target in graph.edges])
    widths = [max(MIN_BOX_W, round(max(len(_label(n)) for n in names) * CHAR_W) + 2 * PAD_X) for names in columns]
    position, box_w, x = {}, {}, MARGIN
    for names, width in zip(columns, widths, strict=True):
        for y_index, name in enumerate(names):
            position[name], box_w[name] = (x, MARGIN + y_index * (BOX_H + GAP_Y)), width
        x += width + GAP_X
    width = x - GAP_X + MARGIN
    height = MARGIN * 2 + max(len(names) for names in columns) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage of {escape(graph.root)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b"/></marker></defs>',
    ]
    for source, job, target in graph.edges:
        (x1, y1), (x2, y2) = position[source], position[target]
        start, end = (x1 + box_w[source], y1 + BOX_H / 2), (x2, y2 + BOX_H / 2)
        bend = max(abs(end[0] - start[0]) / 2, 30)
        parts.append(
            f'<path class="edge" data-from="{escape(source)}" data-to="{escape(target)}" '
            f'd="M {start[0]} {start[1]} C {start[0] + bend} {start[1]}, {end[0] - bend} {end[1]}, '
            f'{end[0]} {end[1]}" fill="none" stroke="#64748b" stroke-width="1.5" marker-end="url(#arrow)">'
            f"<title>{escape(source)} → {escape(job)} → {escape(target)}</title></path>"
        )
    for name, (x, y) in sorted(position.items()):
        parts.append(_box(graph, name, x, y, box_w[name], link))
    parts.append("</svg>")
    return "".join(parts)


def _text(x: float, y: float, content: str, *, fill: str, size: int = FONT_SIZE, css: str = "") -> str:
    kind = f' class="{css}"' if css else ""
    return (
        f'<text{kind} x="{x}" y="{y}" text-anchor="middle" font-family="{escape(FONT)}" font-size="{size}" '
        f'fill="{fill}">{escape(content)}</text>'
    )


def _box(graph: ProductGraph, name: str, x: int, y: int, width: int, link: Callable[[str], str | None]) -> str:
    root, model = name == graph.root, name in graph.models
    fill, stroke = ("#1e3a8a", "#1e3a8a") if root else ("#fef3c7", "#d97706") if model else ("#eff6ff", "#3b82f6")
    text_fill = "#ffffff" if root else "#0f172a"
    middle = x + width / 2
    if model:
        version = f"model v{graph.models[name] or '?'}"
        text = _text(middle, y + 18, _label(name), fill=text_fill)
        text += _text(middle, y + 35, version, fill="#92400e", size=FONT_SIZE - 1, css="kind")
    else:
        text = _text(middle, y + BOX_H / 2 + 4, _label(name), fill=text_fill)
    box = (
        f'<rect x="{x}" y="{y}" width="{width}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{stroke}"/>'
        f"{text}<title>{escape(name)}</title>"
    )
    kind = "model" if model else "dataset"
    href = None if root else link(name)
    if href:
        return f'<a class="node" href="{escape(href)}" data-dataset="{escape(name)}" data-kind="{kind}">{box}</a>'
    return f'<g class="node" data-dataset="{escape(name)}" data-kind="{kind}">{box}</g>'
