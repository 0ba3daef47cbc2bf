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
LOOP_ROOM = 24
"""Room under the boxes for edges that run back to the left (a cycle)."""
MIN_BOX_W = 110
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"
FONT_SIZE = 12
CHAR_W = FONT_SIZE * 0.62
"""A monospace character's advance (0.6 em in common monospace fonts), so a box's width fits its label exactly."""


def _label(name: str) -> str:
    """Products and models by name, files by their last path segment."""
    return name.rsplit("/", 1)[-1]


def _columns(names: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Names by column: each one column right of the furthest of its inputs.

    An edge that closes a cycle (a back edge of a depth-first walk; any producer may report one, e.g. a merge
    that reads its own table) does not count: the cycle's datasets go left to right in the order met.
    """
    outgoing: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        if source != target:
            outgoing[source].append(target)
    finished: list[str] = []  # depth-first post-order; reversed, every edge but a back edge points forward
    state: dict[str, bool] = {}
    for start in sorted(outgoing):
        if start in state:
            continue
        state[start] = False
        stack = [(start, iter(sorted(outgoing[start])))]
        while stack:
            node, pending = stack[-1]
            for target in pending:
                if target not in state:
                    state[target] = False
                    stack.append((target, iter(sorted(outgoing[target]))))
                    break
            else:
                state[node] = True
                finished.append(node)
                stack.pop()
    order = finished[::-1]
    position = {name: i for i, name in enumerate(order)}
    rank = dict.fromkeys(order, 0)
    for node in order:
        for target in outgoing[node]:
            if position[target] > position[node]:
                rank[target] = max(rank[target], rank[node] + 1)
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
    backward = any(position[t][0] <= position[s][0] for s, _, t in graph.edges if s != t)
    rows_h = max(len(names) for names in columns) * (BOX_H + GAP_Y) - GAP_Y
    height = MARGIN * 2 + rows_h + (LOOP_ROOM if backward else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage of {escape(graph.root)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b"/></marker></defs>',
    ]
    for source, job, target in graph.edges:
        curve = _curve(position[source], box_w[source], position[target], box_w[target], bottom=height - MARGIN)
        parts.append(
            f'<path class="edge" data-from="{escape(source)}" data-to="{escape(target)}" d="{curve}" fill="none" '
            f'stroke="#64748b" stroke-width="1.5" marker-end="url(#arrow)">'
            f"<title>{escape(source)} → {escape(job)} → {escape(target)}</title></path>"
        )
    for name, (x, y) in sorted(position.items()):
        parts.append(_box(graph, name, x, y, box_w[name], link))
    parts.append("</svg>")
    return "".join(parts)


def _curve(source: tuple[int, int], source_w: int, target: tuple[int, int], target_w: int, *, bottom: float) -> str:
    """An edge's path, its control points inside the picture: right side to left side when the reader is to the
    right; a loop over the box's corner for a dataset that reads itself; else under the boxes, back to the left."""
    (x1, y1), (x2, y2) = source, target
    if source == target:
        right = x1 + source_w
        return f"M {right - 28} {y1} C {right - 28} {y1 - MARGIN}, {right + 8} {y1 - MARGIN}, {right} {y1 + 12}"
    if x2 > x1:
        start, end = (x1 + source_w, y1 + BOX_H / 2), (x2, y2 + BOX_H / 2)
        bend = max((end[0] - start[0]) / 2, 30)
        return f"M {start[0]} {start[1]} C {start[0] + bend} {start[1]}, {end[0] - bend} {end[1]}, {end[0]} {end[1]}"
    start, end = (x1 + source_w / 2, y1 + BOX_H), (x2 + target_w / 2, y2 + BOX_H)
    return f"M {start[0]} {start[1]} C {start[0]} {bottom}, {end[0]} {bottom}, {end[0]} {end[1]}"


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
        version = f"model v{graph.models[name]}" if graph.models[name] else "model, unregistered"
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
