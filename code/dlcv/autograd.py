r"""A scalar reverse-mode autograd engine (lecture 6, chapter "Backpropagation").

The chapter ``book/backprop.md`` teaches this module. Every number computed with a
:class:`Value` remembers the operation that produced it and the values it came from; those
records form the *computational graph*. :meth:`Value.backward` walks the graph from the output
back to the inputs in reverse topological order and applies the chain rule at every node:

.. math::

    \frac{\partial L}{\partial x} \mathrel{+}=
    \underbrace{\frac{\partial L}{\partial z}}_{\text{upstream}}\,
    \underbrace{\frac{\partial z}{\partial x}}_{\text{local}}
    \quad \text{for every input } x \text{ of a node } z \quad (1)

The sum (``+=``) is the *copy gate*: a value used by several nodes receives the sum of the
gradients that flow back from each use. The local gradients of the ops, written in the
``_backward`` closure right under each op's forward computation, are

.. math::

    z = x + y:\ \partial z/\partial x = \partial z/\partial y = 1 \quad (2)

    z = x\,y:\ \partial z/\partial x = y,\ \partial z/\partial y = x \quad (3)

    z = x^p:\ \partial z/\partial x = p\,x^{p-1} \quad (4)

    z = x / y:\ \partial z/\partial x = 1/y,\ \partial z/\partial y = -x/y^2 \quad (5)

    z = e^x:\ \partial z/\partial x = e^x = z \quad (6)

    z = \log x:\ \partial z/\partial x = 1/x \quad (7)

    z = \tanh x:\ \partial z/\partial x = 1 - z^2 \quad (8)

    z = \max(0, x):\ \partial z/\partial x = [x > 0] \quad (9)

    z = \sigma(x) = 1/(1 + e^{-x}):\ \partial z/\partial x = z\,(1 - z) \quad (10)

    z = \max(x, y):\ \partial z/\partial x = [x > y] + \tfrac12 [x = y] \quad (11)

This is the design of Karpathy's micrograd (``micrograd/engine.py``), with a few more ops, an
iterative topological sort (no recursion limit on long graphs) and PyTorch's accumulation rule:
gradients of leaves add up over calls to :meth:`Value.backward`, those of intermediate nodes are
recomputed on each call. :func:`to_networkx` and :func:`draw_graph` turn a graph into a
``networkx.DiGraph`` and a matplotlib figure.

Torch counterparts: a ``torch.Tensor`` with ``requires_grad=True`` (``.data``, ``.grad``,
``.grad_fn`` for ``_op``/``_backward``, ``.grad_fn.next_functions`` for ``_prev``) and
``Tensor.backward``. Like ``torch.maximum``, :meth:`Value.max` splits the gradient evenly
between tied inputs; like ``torch.relu``, :meth:`Value.relu` passes no gradient at 0.
Reference: Rumelhart, Hinton and Williams, "Learning representations by back-propagating
errors" (1986); Baydin et al., "Automatic differentiation in machine learning: a survey"
(2018).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.figure import Figure

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Value", "draw_graph", "to_networkx", "topological_order"]

Number = int | float


def _as_value(other: Value | Number) -> Value:
    """Wrap a Python number as a constant leaf; pass a Value through."""
    if isinstance(other, Value):
        return other
    return Value(other)


class Value:
    """A scalar in a computational graph, with its gradient.

    Args:
        data: the number this node holds (any real Python or NumPy number, not a bool).
        label: an optional name shown in drawings, e.g. ``"x"``.

    Attributes:
        data: the value computed in the forward pass.
        grad: :math:`\\partial L / \\partial` (this node) after ``L.backward()``; 0 before.
        _prev: the nodes this one was computed from (its inputs), without repeats.
        _op: the name of the op that produced this node ("" for a leaf).
        _backward: adds this node's contribution to the grads of ``_prev``, Eq. (1).
    """

    def __init__(
        self,
        data: Number,
        _children: tuple[Value, ...] = (),
        _op: str = "",
        *,
        label: str = "",
    ) -> None:
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(
                f"Value data must be a real number (int or float), got "
                f"{type(data).__name__}"
            )
        self.data = float(data)
        self.grad = 0.0
        # internal variables used for graph construction
        self._backward: Callable[[], None] = lambda: None
        self._prev: tuple[Value, ...] = tuple(dict.fromkeys(_children))  # ordered set
        self._op = _op
        self.label = label

    # ---- binary ops ---------------------------------------------------------------------
    def __add__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad  # Eq. (2): the add gate distributes
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad  # Eq. (3): the mul gate swaps
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, p: Number) -> Value:
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(
                f"the exponent must be an int or float constant, got {type(p).__name__}"
            )
        if self.data < 0 and float(p) != int(p):
            raise ValueError(
                f"a negative base needs an integer exponent, got {self.data} ** {p}"
            )
        if self.data == 0 and p < 0:
            raise ValueError(f"0 ** {p} is undefined (division by zero)")
        out = Value(self.data**p, (self,), f"**{p:g}")

        def _backward() -> None:
            self.grad += p * self.data ** (p - 1) * out.grad  # Eq. (4)

        out._backward = _backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad  # Eq. (2), with a sign for the subtrahend
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError(f"division of {self.data} by a Value holding 0")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += out.grad / other.data  # Eq. (5)
            other.grad -= self.data / other.data**2 * out.grad

        out._backward = _backward
        return out

    def max(self, other: Value | Number) -> Value:
        """``max(self, other)``, like ``torch.maximum``: ties split the gradient."""
        other = _as_value(other)
        # Python's max(nan, 1) is nan but max(1, nan) is 1; torch.maximum: nan for both.
        nan = math.isnan(self.data) or math.isnan(other.data)
        data = math.nan if nan else max(self.data, other.data)
        out = Value(data, (self, other), "max")

        def _backward() -> None:
            # Eq. (11): the max gate routes the gradient to the larger input
            if self.data == other.data:
                self.grad += 0.5 * out.grad
                other.grad += 0.5 * out.grad
            elif self.data > other.data:
                self.grad += out.grad
            else:
                other.grad += out.grad

        out._backward = _backward
        return out

    # ---- unary ops ----------------------------------------------------------------------
    def __neg__(self) -> Value:
        out = Value(-self.data, (self,), "neg")

        def _backward() -> None:
            self.grad -= out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """:math:`e^x`."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad  # Eq. (6)

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm; the input must be positive."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data  # Eq. (7)

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - out.data**2) * out.grad  # Eq. (8)

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """:math:`\\max(0, x)`; the gradient at 0 is 0, as in ``torch.relu``."""
        data = 0.0 if self.data <= 0 else self.data  # NaN stays NaN, as in torch.relu
        out = Value(data, (self,), "relu")

        def _backward() -> None:
            self.grad += (self.data > 0) * out.grad  # Eq. (9)

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """The logistic sigmoid as one node, with its simple local gradient."""
        z = math.exp(-abs(self.data))  # in (0, 1]: no overflow for large |x|
        s = 1 / (1 + z) if self.data >= 0 else z / (1 + z)
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += out.data * (1 - out.data) * out.grad  # Eq. (10)

        out._backward = _backward
        return out

    # ---- the reflected ops: number (op) Value -------------------------------------------
    def __radd__(self, other: Number) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return _as_value(other) / self

    # ---- backpropagation ----------------------------------------------------------------
    def backward(self, gradient: float = 1.0) -> None:
        """Backpropagate: fill ``.grad`` of every node this one depends on.

        Args:
            gradient: dL/d(this node); 1 when this node is the loss L itself.

        Leaves accumulate (``+=``) over calls, as in PyTorch; the grads of
        intermediate nodes are reset and recomputed on every call.
        """
        if isinstance(gradient, bool) or not isinstance(gradient, numbers.Real):
            raise TypeError(
                f"gradient must be a real number, got {type(gradient).__name__}"
            )
        topo = topological_order(self)  # inputs first, self last
        for v in topo:
            if v._prev:
                v.grad = 0.0
        self.grad += float(gradient)
        for v in reversed(topo):  # each node after every node that uses it
            v._backward()  # Eq. (1)

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


def topological_order(root: Value) -> list[Value]:
    """Every node that ``root`` depends on, each after all of its inputs.

    An iterative depth-first search, so that graphs deeper than Python's recursion limit
    work too.

    Returns:
        The nodes, inputs first and ``root`` last; each node once.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)  # post-order: after all of its inputs
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in reversed(node._prev):  # reversed: visit the first input first
            if id(child) not in visited:
                stack.append((child, False))
    return order


def to_networkx(root: Value) -> nx.DiGraph:
    """The computational graph of ``root`` as a ``networkx.DiGraph``.

    Nodes are the :class:`Value` objects themselves; an edge runs from each input to the node
    computed from it. Each node has the attribute ``layer``: the graph depth at which
    :func:`draw_graph` puts it, with ``root`` in the last layer and every edge going from a
    lower to a higher layer.
    """
    import networkx as nx

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

    Layers are placed from the output back to the inputs. A node sits at the mean height of
    the nodes that use it, and the inputs of one node are stacked in argument order, the
    first on top (the barycentre heuristic of layered graph drawing).
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
    """Draw the computational graph of ``root``, inputs on the left, output on the right.

    Each box shows the node's name (its ``label``, else its op), its value and its gradient.
    Leaves are blue, op nodes orange and ``root`` green.

    Args:
        root: the output node, usually after ``root.backward()``.
        ax: draw into these axes; by default a new figure sized to the graph.
        title: the axes title.
        precision: decimals of the printed values and gradients.
        fontsize: size of the text in the boxes, in points.

    Returns:
        The figure that holds the drawing.
    """
    if not isinstance(precision, int) or isinstance(precision, bool) or precision < 0:
        raise ValueError(f"precision must be an int >= 0, got {precision!r}")
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
        # from the middle of the input's right side to the middle of the user's left side
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
