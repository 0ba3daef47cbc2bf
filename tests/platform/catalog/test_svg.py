"""The lineage picture as drawn: every dataset right of its inputs, and every box and edge inside the picture,
cycles and datasets that read themselves included."""

import re
import xml.etree.ElementTree as ET

from lakemesh.catalog.svg import lineage_svg
from lakemesh.catalog.trees import ProductGraph

_SVG = "{http://www.w3.org/2000/svg}"


def _drawn(graph: ProductGraph) -> tuple[ET.Element, dict[str, tuple[float, float, float]]]:
    svg = ET.fromstring(lineage_svg(graph, link=lambda name: f"/products/{name}"))
    boxes = {}
    for node in svg.iter():
        if node.get("class") == "node":
            rect = node.find(f"{_SVG}rect")
            boxes[node.get("data-dataset")] = (float(rect.get("x")), float(rect.get("y")), float(rect.get("width")))
    return svg, boxes


def _inside(svg: ET.Element) -> None:
    width, height = float(svg.get("width")), float(svg.get("height"))
    for path in svg.iter(f"{_SVG}path"):
        if path.get("class") != "edge":
            continue
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))]
        xs, ys = numbers[0::2], numbers[1::2]
        assert all(0 <= x <= width for x in xs) and all(0 <= y <= height for y in ys), path.get("d")


def test_a_chain_with_a_shortcut_puts_every_dataset_right_of_its_inputs():
    graph = ProductGraph(
        root="p",
        datasets={"a": -2, "f": -1, "m": -1, "p": 0},
        edges=[("a", "j1", "f"), ("f", "j2", "m"), ("f", "j3", "p"), ("m", "j3", "p")],
        models={"m": None},
    )
    svg, boxes = _drawn(graph)
    for source, _, target in graph.edges:
        assert boxes[source][0] + boxes[source][2] < boxes[target][0], (source, target)
    _inside(svg)
    assert "model, unregistered" in ET.tostring(svg, encoding="unicode")


def test_cycles_and_a_dataset_that_reads_itself_stay_inside_the_picture():
    graph = ProductGraph(
        root="x",
        datasets={"b": -1, "c": 1, "x": 0, "<&\"'>": 2},
        edges=[("b", "j", "c"), ("b", "j", "x"), ("x", "k", "b"), ("x", "m", "x"), ("c", "n", "<&\"'>")],
    )
    svg, boxes = _drawn(graph)  # parses: every name escaped
    _inside(svg)
    assert boxes["b"][0] < boxes["c"][0] and boxes["c"][0] < boxes["<&\"'>"][0]  # c, off the cycle, right of b
    assert float(svg.get("height")) > max(y for _, y, _ in boxes.values()) + 44  # room for the edge back left
