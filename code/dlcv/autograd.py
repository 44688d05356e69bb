r"""A scalar reverse-mode autograd engine (lecture 6, chapter "Backpropagation").

Taught by the chapter "Backpropagation" (``book/backprop.md``). ``Eq. (6.k)`` tags are
its equation numbers: (6.4) ``bp-chain-node`` and (6.6) ``bp-sigmoid-grad``.

Every number computed with a :class:`Value` remembers the op that produced it and its
inputs; those records form the computational graph. :meth:`Value.backward` walks it from
the output back to the inputs in reverse topological order and applies the chain rule of
Eq. (6.4) at every node: each input's gradient grows by the upstream gradient times the
local one. The sum (``+=``) is the copy gate: a value used twice receives both
gradients. Each op writes its local gradients in the ``_backward`` closure right under
its forward computation.

This is the design of Karpathy's micrograd (``micrograd/engine.py``), with more ops, an
iterative topological sort (no recursion limit) and PyTorch's accumulation rule: leaves
accumulate over calls to :meth:`Value.backward`, intermediate nodes are recomputed.
Drawing lives in :mod:`dlcv.viz` (:func:`~dlcv.viz.draw_graph`), so this engine imports
no plotting library.

Torch counterparts: a ``torch.Tensor`` with ``requires_grad=True`` (``.grad_fn`` for
``_op``/``_backward``, ``.grad_fn.next_functions`` for ``_prev``) and
``Tensor.backward``. Like ``torch.maximum``, :meth:`Value.max` splits the gradient
between tied inputs and propagates NaN; like ``torch.relu``, :meth:`Value.relu` passes
no gradient at 0. Papers: Rumelhart, Hinton and Williams (1986); Baydin et al. (2018).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

__all__ = ["Value", "topological_order"]

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
        grad: :math:`\\partial L / \\partial` (this node) after ``L.backward()``;
            0 before.
        _prev: the nodes this one was computed from (its inputs), without repeats.
        _op: the name of the op that produced this node ("" for a leaf).
        _backward: adds this node's contribution to the grads of ``_prev``,
            Eq. (6.4).
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

    # ---- binary ops ------------------------------------------------------------------
    def __add__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad  # d(x + y)/dx = d(x + y)/dy = 1: add distributes
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad  # d(xy)/dx = y, d(xy)/dy = x: mul swaps
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
            self.grad += p * self.data ** (p - 1) * out.grad  # d(x^p)/dx = p x^(p-1)

        out._backward = _backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad  # d(x - y)/dx = 1, d(x - y)/dy = -1
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError(f"division of {self.data} by a Value holding 0")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += out.grad / other.data  # d(x/y)/dx = 1/y, d(x/y)/dy = -x/y^2
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
            # the max gate routes the gradient to the larger input
            if self.data == other.data:
                self.grad += 0.5 * out.grad
                other.grad += 0.5 * out.grad
            elif self.data > other.data:
                self.grad += out.grad
            else:
                other.grad += out.grad

        out._backward = _backward
        return out

    # ---- unary ops -------------------------------------------------------------------
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
            self.grad += out.data * out.grad  # d(e^x)/dx = e^x, the output

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm; the input must be positive."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data  # d(log x)/dx = 1/x

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - out.data**2) * out.grad  # d(tanh x)/dx = 1 - tanh(x)^2

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """:math:`\\max(0, x)`; the gradient at 0 is 0, as in ``torch.relu``."""
        data = 0.0 if self.data <= 0 else self.data  # NaN stays NaN, as in torch.relu
        out = Value(data, (self,), "relu")

        def _backward() -> None:
            self.grad += (self.data > 0) * out.grad  # 1 where x > 0, else 0

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """The logistic sigmoid as one node, with its simple local gradient."""
        z = math.exp(-abs(self.data))  # in (0, 1]: no overflow for large |x|
        s = 1 / (1 + z) if self.data >= 0 else z / (1 + z)
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            # Eq. (6.6): sigma (1 - sigma)
            self.grad += out.data * (1 - out.data) * out.grad

        out._backward = _backward
        return out

    # ---- the reflected ops: number (op) Value ----------------------------------------
    def __radd__(self, other: Number) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return _as_value(other) / self

    # ---- backpropagation -------------------------------------------------------------
    def backward(self, gradient: float = 1.0) -> None:
        """Backpropagate: fill ``.grad`` of every node this one depends on.

        Leaves accumulate (``+=``) over calls, as in PyTorch; the grads of
        intermediate nodes are reset and recomputed on every call.

        Args:
            gradient: dL/d(this node); 1 when this node is the loss L itself.
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
            v._backward()  # Eq. (6.4) at every node

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
