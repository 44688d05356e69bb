"""Drawing shared by the chapters: image grids, decision regions, curves, graphs.

Everything that draws lives here, so that the model modules import no plotting library.
Torch counterpart of :func:`show_images`: ``torchvision.utils.make_grid`` (which returns
one tensor; here each image gets its own axes, with a title and a coloured frame).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlcv._checks import (
    check_float_tensor,
    check_labels,
    check_positive_int,
    check_shape,
)
from dlcv.autograd import Value, topological_order

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "draw_graph",
    "moving_average",
    "plot_decision_regions",
    "show_images",
    "to_networkx",
]


def show_images(
    images: torch.Tensor,
    *,
    ncols: int,
    titles: Sequence[str] | None = None,
    frame_colors: Sequence[str | None] | None = None,
    size: float = 1.1,
    cmap: str = "gray_r",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """Draw a batch of grey-level images in a grid, one axes per image.

    Args:
        images: (N, H, W) images, any real dtype; each is shown on its own value range
            unless it is uint8, which is shown on 0..255.
        ncols: images per row; the number of rows follows.
        titles: N titles, or None.
        frame_colors: N frame colours (None for no frame), or None.
        size: inches per image.
        cmap: a matplotlib colour map; ``gray_r`` shows dark garments on white.
        vmin: the low end of one value range for every image (e.g. 0), so that
            brightness compares across images; by default uint8 images use 0..255 and
            others their own range.
        vmax: the high end of that value range (e.g. 1).

    Returns:
        The matplotlib figure (not shown; the notebook displays it).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 3:
        raise ValueError(f"images must have shape (N, H, W), got {tuple(images.shape)}")
    n = images.shape[0]
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    for name, seq in (("titles", titles), ("frame_colors", frame_colors)):
        if seq is not None and len(seq) != n:
            raise ValueError(
                f"{name} must have one entry per image ({n}), got {len(seq)}"
            )
    nrows = -(-n // ncols)
    fig = Figure(
        figsize=(size * ncols, size * nrows * (1.25 if titles else 1.0)),
        layout="constrained",
    )
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if vmin is not None or vmax is not None:
        vrange = {"vmin": vmin, "vmax": vmax}
    else:
        vrange = {"vmin": 0, "vmax": 255} if images.dtype == torch.uint8 else {}
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[i].detach().cpu().float().numpy(), cmap=cmap, **vrange)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        color = frame_colors[i] if frame_colors is not None else None
        for spine in ax.spines.values():
            spine.set_visible(color is not None)
            if color is not None:
                spine.set_color(color)
                spine.set_linewidth(3)
    return fig


def to_networkx(root: Value) -> nx.DiGraph:
    """The computational graph of ``root`` as a ``networkx.DiGraph``.

    Nodes are the :class:`~dlcv.autograd.Value` objects themselves; an edge runs from
    each input to the node computed from it. Each node has the attribute ``layer``: the
    graph depth at which :func:`draw_graph` puts it, with ``root`` in the last layer and
    every edge going from a lower to a higher layer.
    """
    import networkx as nx  # imported when a graph is drawn, not with dlcv.viz

    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    topo = topological_order(root)
    # depth: the longest path from the node to root; the output has depth 0
    depth = {id(root): 0}
    for v in reversed(topo):  # every user of a node comes before it
        for child in v._prev:
            depth[id(child)] = max(depth.get(id(child), 0), depth[id(v)] + 1)
    deepest = max(depth.values())
    graph = nx.DiGraph()
    for v in topo:
        graph.add_node(v, layer=deepest - depth[id(v)])
    for v in topo:
        for child in v._prev:
            graph.add_edge(child, v)
    return graph


def _layered_positions(
    graph: nx.DiGraph, root: Value
) -> dict[Value, tuple[float, float]]:
    """x = layer; y spreads each layer's nodes, ordered to keep edges from crossing.

    Layers are placed from the output back to the inputs. A node sits at the mean height
    of the nodes that use it, and the inputs of one node are stacked in argument order,
    the first on top (the barycentre heuristic of layered graph drawing).
    """
    pos = {root: (float(graph.nodes[root]["layer"]), 0.0)}
    by_layer: dict[int, list[Value]] = {}
    for v, layer in graph.nodes(data="layer"):
        by_layer.setdefault(layer, []).append(v)
    for layer in sorted(by_layer, reverse=True):
        nodes = [v for v in by_layer[layer] if v not in pos]
        if not nodes:
            continue

        def height(v: Value) -> float:
            users = list(graph.successors(v))
            return sum(pos[u][1] - 0.1 * u._prev.index(v) for u in users) / len(users)

        nodes.sort(key=height, reverse=True)
        centre = sum(height(v) for v in nodes) / len(nodes)
        top = centre + (len(nodes) - 1) / 2
        for i, v in enumerate(nodes):
            pos[v] = (float(layer), top - i)
    return pos


def draw_graph(
    root: Value,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    precision: int = 2,
    fontsize: float = 8.0,
) -> Figure:
    """Draw the computational graph of ``root``: inputs left, output right.

    Each box shows the node's name (its ``label``, else its op), its value and its
    gradient. Leaves are blue, op nodes orange and ``root`` green.

    Args:
        root: the output node, usually after ``root.backward()``.
        ax: draw into these axes; by default a new figure sized to the graph.
        title: the axes title.
        precision: decimals of the printed values and gradients.
        fontsize: size of the text in the boxes, in points.

    Returns:
        The figure that holds the drawing.
    """
    check_positive_int(precision, "precision", minimum=0)
    graph = to_networkx(root)
    pos = _layered_positions(graph, root)
    n_layers = 1 + max(graph.nodes[v]["layer"] for v in graph)
    widest = 1 + max(p[1] for p in pos.values()) - min(p[1] for p in pos.values())
    if ax is None:
        fig = Figure(
            figsize=(0.6 + 1.15 * n_layers, 1.0 + 0.75 * widest), layout="constrained"
        )
        ax = fig.subplots()
    xs = list(range(n_layers))
    boxes = {}
    for v, (x, y) in pos.items():
        name = v.label or v._op or "const"
        color = "#d5ecd4" if v is root else ("#fde2c4" if v._prev else "#cfe2f3")
        boxes[v] = ax.text(
            x,
            y,
            f"{name}\n{v.data:.{precision}f}\ngrad {v.grad:.{precision}f}",
            ha="center",
            va="center",
            fontsize=fontsize,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.35", "fc": color, "ec": "0.35", "lw": 0.8},
        )
    for child, parent in graph.edges():
        # From the middle of the input's right side to the middle of the user's left
        # side.
        ax.annotate(
            "",
            xy=(0, 0.5),
            xycoords=boxes[parent],
            xytext=(1, 0.5),
            textcoords=boxes[child],
            zorder=4,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.3",
                "lw": 0.9,
                "shrinkA": 3.5,
                "shrinkB": 3.5,
            },
        )
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(-0.6, n_layers - 0.4)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_xticks(xs)
    ax.set_yticks([])
    ax.set_xlabel("layer of the graph (forward pass: left to right)")
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title is not None:
        ax.set_title(title)
    return ax.figure


@torch.no_grad()
def plot_decision_regions(
    ax: Axes,
    predict: Callable[[torch.Tensor], torch.Tensor],
    extent: tuple[float, float, float, float],
    *,
    x: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    num_classes: int = 3,
    steps: int = 300,
    alpha: float = 0.3,
) -> torch.Tensor:
    """Colour the plane by a 2-D classifier's decision, with the points on top.

    Args:
        ax: the axes to draw into.
        predict: maps (M, 2) points to (M,) integer labels or (M, C) scores (the
            argmax is taken); it gets the grid on ``x``'s device (else the CPU).
        extent: ``(x0, x1, y0, y1)``, the plotted window.
        x: (N, 2) points to scatter, coloured by their labels ``y`` (N,); optional.
        y: (N,) integer labels in [0, num_classes), with ``x``.
        num_classes: C; class c is drawn in matplotlib's colour ``f"C{c}"``.
        steps: grid points per axis.
        alpha: opacity of the regions.

    Returns:
        (steps, steps) int64 labels of the grid, row i at the i-th height (CPU).
    """
    check_positive_int(steps, "steps", minimum=2)
    num_classes = check_positive_int(num_classes, "num_classes")
    if (x is None) != (y is None):
        raise ValueError("give both x and y, or neither")
    device = x.device if x is not None else torch.device("cpu")
    x0, x1, y0, y1 = (float(v) for v in extent)
    xs, ys = torch.linspace(x0, x1, steps), torch.linspace(y0, y1, steps)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")  # (steps, steps) each
    grid = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # (steps^2, 2)
    out = predict(grid.to(device))
    labels = out.argmax(dim=1) if out.dim() == 2 else out  # (steps^2,)
    regions = labels.reshape(steps, steps).cpu()
    colors = [f"C{c}" for c in range(num_classes)]
    levels = [c - 0.5 for c in range(num_classes + 1)]
    ax.contourf(gx, gy, regions, levels=levels, colors=colors, alpha=alpha)
    if x is not None:
        check_shape(check_float_tensor(x, "x"), "x", ("N", 2))
        y = check_labels(y, "y", n=len(x), num_classes=num_classes)
        points = x.cpu()
        point_colors = [colors[int(c)] for c in y.cpu()]
        style = {"s": 10, "linewidths": 0.3, "edgecolors": "k"}
        ax.scatter(points[:, 0], points[:, 1], c=point_colors, **style)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.grid(False)
    return regions


def moving_average(
    values: Sequence[float] | torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean of each run of ``window`` consecutive values, for smoothing a curve.

    Args:
        values: a sequence of T numbers, e.g. the loss of every step.
        window: the run length, 1 <= window <= T.

    Returns:
        ``(steps, means)``: two (T - window + 1,) tensors; ``steps[i]`` is the index
        of the last value averaged into ``means[i]``, so a smoothed curve lines up with
        the raw one. Counterpart: ``numpy.convolve(values, ones(window) / window,
        "valid")``.
    """
    values = torch.as_tensor(values, dtype=torch.float64).cpu()  # (T,)
    check_float_tensor(values, "values", ndim=1)
    window = check_positive_int(window, "window")
    if window > len(values):
        raise ValueError(
            f"window must be at most the number of values {len(values)}, got {window}"
        )
    means = values.unfold(0, window, 1).mean(dim=1)  # (T - window + 1,)
    return torch.arange(window - 1, len(values)), means
