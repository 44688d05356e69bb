import math

import pytest
import torch
from matplotlib.figure import Figure

from dlcv import toy
from dlcv.autograd import Value
from dlcv.viz import (
    draw_graph,
    moving_average,
    plot_decision_regions,
    show_images,
    to_networkx,
)


def test_grid_layout_titles_and_frames():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8, generator=g)
    fig = show_images(
        images,
        ncols=3,
        titles=[str(i) for i in range(7)],
        frame_colors=["green", None, "red", None, None, None, None],
    )
    axes = fig.axes
    assert len(axes) == 9  # 3 rows of 3; the last two are blank
    assert [ax.get_title() for ax in axes[:7]] == [str(i) for i in range(7)]
    assert not axes[7].axison and not axes[8].axison
    shown = axes[0].images[0]
    assert shown.get_clim() == (0, 255)
    assert torch.equal(
        torch.from_numpy(shown.get_array().data).to(torch.uint8), images[0]
    )
    assert (
        axes[0].spines["left"].get_visible()
        and not axes[1].spines["left"].get_visible()
    )


def test_one_value_range_for_every_image():
    images = torch.stack(
        [torch.full((4, 4), 0.5), torch.linspace(0, 0.8, 16).view(4, 4)]
    )
    own = show_images(images, ncols=2)
    assert own.axes[1].images[0].get_clim() == pytest.approx((0.0, 0.8))
    shared = show_images(images, ncols=2, cmap="gray", vmin=0, vmax=1)
    assert [ax.images[0].get_clim() for ax in shared.axes] == [(0, 1), (0, 1)]
    assert shared.axes[0].images[0].get_cmap().name == "gray"


def test_bad_input():
    with pytest.raises(ValueError, match="shape \\(N, H, W\\), got \\(28, 28\\)"):
        show_images(torch.zeros(28, 28), ncols=2)
    with pytest.raises(ValueError, match="one entry per image \\(2\\), got 1"):
        show_images(torch.zeros(2, 4, 4), ncols=2, titles=["a"])
    with pytest.raises(TypeError, match="torch.Tensor, got list"):
        show_images([[0]], ncols=1)
    with pytest.raises(ValueError, match="ncols must be a positive int, got 0"):
        show_images(torch.zeros(2, 4, 4), ncols=0)


# ---- computational graphs ------------------------------------------------------------
def test_graph_structure_of_the_lecture_example():
    w0, x0, w1, x1, w2 = (Value(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    graph = to_networkx(f)
    # 5 inputs, 2 constants (the two 1s) and 8 ops: *, *, +, +, neg, exp, +, /
    assert graph.number_of_nodes() == 15
    assert graph.number_of_edges() == 14
    assert [v for v in graph if graph.out_degree(v) == 0] == [f]
    layers = graph.nodes(data="layer")
    assert all(layers[u] < layers[v] for u, v in graph.edges())
    assert layers[f] == 7 and layers[w0] == 0 and layers[w2] == 2


def test_reused_node_is_one_node():
    a = Value(3.0)
    b = a * a + a  # a feeds two nodes, twice the first one
    graph = to_networkx(b)
    assert graph.number_of_nodes() == 3 and graph.number_of_edges() == 3
    b.backward()
    assert a.grad == pytest.approx(2 * 3.0 + 1)


def test_draw_graph_labels_every_node():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    f = (x + y) * z
    f.backward()
    fig = draw_graph(f, title="f = (x + y) z")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    assert len(texts) == 5  # one box per node
    assert "z\n-4.00\ngrad 3.00" in texts and "*\n-12.00\ngrad 1.00" in texts
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(arrows) == 4  # one arrow per edge
    fig.canvas.draw()  # lays the figure out without error


def test_draw_graph_into_given_axes():
    fig = Figure()
    ax = fig.subplots()
    a = Value(1.0)
    assert draw_graph(a.relu(), ax=ax, precision=1) is fig
    assert "relu\n1.0\ngrad 0.0" in [t.get_text() for t in ax.texts]


def test_draw_graph_bad_input():
    with pytest.raises(ValueError, match="precision must be an int >= 0, got -1"):
        draw_graph(Value(1.0), precision=-1)
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        to_networkx(1.0)


# ---- decision regions and smoothed curves ------------------------------------------
def test_decision_regions_of_a_known_rule():
    fig = Figure()
    ax = fig.subplots()
    centres = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    x, y = toy.make_blobs(40, centres, std=0.1, generator=g)

    def right_half(points):  # class 1 right of x1 = 0.25, as (M, 2) scores
        right = points[:, 0] > 0.25
        return torch.stack([~right, right], dim=1).float()

    regions = plot_decision_regions(
        ax, right_half, (-2, 2, -1, 1), x=x, y=y, num_classes=2, steps=81
    )
    xs = torch.linspace(-2, 2, 81)
    assert regions.shape == (81, 81) and regions.dtype == torch.int64
    assert torch.equal(regions, (xs > 0.25).long().expand(81, 81))
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 1.0)
    assert len(ax.collections[-1].get_offsets()) == 40  # the scattered points
    labels = plot_decision_regions(ax, lambda p: (p[:, 1] > 0).long(), (-1, 1, -1, 1))
    assert labels[0].eq(0).all() and labels[-1].eq(1).all()  # rows go up in x2
    with pytest.raises(ValueError, match="give both x and y, or neither"):
        plot_decision_regions(ax, right_half, (-2, 2, -1, 1), x=x)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 1\)"):
        plot_decision_regions(ax, right_half, (-2, 2, -1, 1), x=x, y=y, num_classes=1)


def test_moving_average_equals_numpy_convolve():
    np = pytest.importorskip("numpy")
    values = torch.randn(50, generator=torch.Generator().manual_seed(3)).tolist()
    steps, means = moving_average(values, 7)
    expected = np.convolve(values, np.ones(7) / 7, "valid")
    assert steps.tolist() == list(range(6, 50))
    assert torch.allclose(means, torch.from_numpy(expected))
    steps, means = moving_average([1, 2, 3], 3)
    assert steps.tolist() == [2] and means.tolist() == [2.0]
    with pytest.raises(
        ValueError, match="window must be at most the number of values 3"
    ):
        moving_average([1.0, 2.0, 3.0], 4)
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        moving_average([1.0], 0)
    assert math.isnan(moving_average([1.0, math.nan], 1)[1][1])
