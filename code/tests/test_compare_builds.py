"""tools/compare_builds.py tells measured times apart from other output differences."""

import importlib.util
from pathlib import Path

import nbformat.v4 as nbf

TOOL = Path(__file__).resolve().parents[2] / "tools" / "compare_builds.py"
spec = importlib.util.spec_from_file_location("compare_builds", TOOL)
compare_builds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_builds)


def notebook(*cells):
    """Code cells given as (source, [outputs])."""
    nb = nbf.new_notebook()
    for source, outputs in cells:
        cell = nbf.new_code_cell(source)
        cell.outputs = outputs
        nb.cells.append(cell)
    return nb


def stream(text):
    return nbf.new_output("stream", name="stdout", text=text)


def display(text, png=None):
    data = {"text/plain": text, **({"image/png": png} if png else {})}
    return nbf.new_output("display_data", data=data)


def test_identical_outputs_in_another_order_and_addresses_are_the_same():
    a = notebook(("x", [stream("a\n"), display("<Line2D at 0x7f01>"), stream("b\n")]))
    b = notebook(("x", [display("<Line2D at 0x7f99>"), stream("a\nb\n")]))
    assert compare_builds.compare(a, b) == (2, 2, 0, [])


def test_times_and_timer_cells_count_as_timing_and_the_rest_is_shown():
    a = notebook(
        ("train()", [stream("accuracy 81.2%, 8.1 s\n")]),
        ("t = median_time(f)", [display("'19'")]),
        ("train()", [stream("accuracy 81.2%\n"), display("fig", png="AAA")]),
    )
    b = notebook(
        ("train()", [stream("accuracy 81.2%, 8.4 s\n")]),
        ("t = median_time(f)", [display("'28'")]),
        ("train()", [stream("accuracy 82.5%\n"), display("fig", png="AAB")]),
    )
    total, same, timing, other = compare_builds.compare(a, b)
    assert (total, same, timing) == (4, 0, 2)
    assert other == [
        "code cell 3 0 display_data image/png: (the image differs)",
        "code cell 3 stdout: -accuracy 81.2%",
        "code cell 3 stdout: +accuracy 82.5%",
    ]


def test_different_code_is_reported_not_compared():
    a, b = notebook(("x = 1", [])), notebook(("x = 2", []))
    assert compare_builds.compare(a, b)[3] == ["the chapters' code cells differ"]
