r"""Linear classifiers: scores, SVM and softmax losses, regularizers, SGD (lecture 3).

The chapter ``book/linear.md`` ("Linear classifiers") teaches this module, and the
equation numbers below are the chapter's. The course's assignment 2 asks for the same
four loss functions and the same ``LinearClassifier``.

Layout. ``W`` is (C, D), one row per class, like ``torch.nn.Linear(D, C).weight``; a
batch ``X`` is (N, D), one example per row; labels ``y`` are (N,) integers in [0, C).
The scores of the batch are ``X @ W.T``, the batched form of Eq. (1). The loss
functions take no bias: use the bias trick, Eq. (2), by appending a column of ones to
``X`` (:func:`append_ones`), so that the last column of ``W`` is ``b``.
:class:`LinearClassifier` does so internally and exposes ``weight`` (C, D) and ``bias``
(C,), with ``nn.Linear``'s ``state_dict`` keys.

.. math::

    s = f(x, W) = W x + b \quad (1)

    W x + b = \begin{bmatrix} W & b \end{bmatrix}
              \begin{bmatrix} x \\ 1 \end{bmatrix} \quad (2)

    L_i = \sum_{j \neq y_i} \max(0,\ s_j - s_{y_i} + \Delta)
          \qquad \text{(multiclass SVM, } \Delta = 1 \text{)} \quad (3)

    P(Y = k \mid x_i) = \frac{e^{s_k}}{\sum_j e^{s_j}} \qquad \text{(softmax)} \quad (4)

    L_i = -\log P(Y = y_i \mid x_i) \qquad \text{(cross-entropy)} \quad (5)

    H(P, Q) = H(P) + D_{KL}(P \,\|\, Q) \quad (6)

    \frac{e^{s_k}}{\sum_j e^{s_j}} = \frac{e^{s_k - m}}{\sum_j e^{s_j - m}},
          \quad m = \max_j s_j \qquad \text{(stable softmax)} \quad (7)

    L(W) = \frac{1}{N} \sum_{i=1}^N L_i(f(x_i, W), y_i) + \lambda R(W) \quad (8)

    R(W) = \sum_k \sum_l W_{k,l}^2 \ \text{(L2)},\quad
           \sum_k \sum_l \lvert W_{k,l} \rvert \ \text{(L1)},\quad
           \sum_k \sum_l \left(\beta W_{k,l}^2 + \lvert W_{k,l} \rvert\right)
           \ \text{(elastic net)} \quad (9)

Gradients, with :math:`w_k` the k-th row of W and :math:`\mathbb{1}` the indicator:

.. math::

    \frac{\partial L_i}{\partial w_j}
        = \mathbb{1}[s_j - s_{y_i} + \Delta > 0]\, x_i^\top \ (j \neq y_i), \qquad
    \frac{\partial L_i}{\partial w_{y_i}} = -\sum_{j \neq y_i}
        \mathbb{1}[s_j - s_{y_i} + \Delta > 0]\, x_i^\top \quad (10)

    \frac{\partial L_i}{\partial w_k}
        = \left(P(Y = k \mid x_i) - \mathbb{1}[k = y_i]\right) x_i^\top \quad (11)

    W \leftarrow W - \alpha \left(\frac{1}{B} \sum_{i \in \text{batch}} \nabla_W L_i
        + \lambda \nabla_W R(W)\right) \qquad \text{(minibatch SGD)} \quad (12)

Eq. (6) is why minimizing the cross-entropy to a one-hot target (entropy 0) minimizes
the KL divergence; it is not computed here.

Papers: Weston and Watkins (1999) for the multiclass SVM loss of Eq. (3); Crammer and
Singer (2001) for the variant with a max over j instead of a sum; Zou and Hastie (2005)
for the elastic net.

Torch counterparts: ``torch.nn.Linear`` for the score function; ``F.cross_entropy``
for Eq. (5) averaged over the batch; ``F.multi_margin_loss`` for Eq. (3), which also
divides each L_i by C: with its default ``reduction="mean"``,
``C * F.multi_margin_loss(s, y, margin=Delta)`` equals the data term of Eq. (8) for the
SVM. ``torch.softmax`` and ``torch.log_softmax`` for Eqs. (4) and (7).
scikit-learn counterparts: ``LogisticRegression`` (softmax loss, L2, no penalty on the
bias, L-BFGS) and ``LinearSVC`` (one-vs-rest squared hinge by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dlcv._checks import check_labels
from dlcv.runtime import progress

__all__ = [
    "PENALTIES",
    "LinearClassifier",
    "LinearSVM",
    "LossFn",
    "SoftmaxClassifier",
    "append_ones",
    "log_softmax",
    "regularization",
    "softmax",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "softmax_naive",
    "svm_loss_naive",
    "svm_loss_vectorized",
]

PENALTIES = ("l2", "l1", "elasticnet")
LossFn = Callable[..., tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _check_float(
    name: str, x: object, ndim: int | None = None, shape_text: str = ""
) -> torch.Tensor:
    """A floating tensor, with ``ndim`` dimensions unless ``ndim`` is None."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have shape {shape_text}, got {tuple(x.shape)}")
    return x


def _check_penalty(penalty: str, beta: float) -> None:
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
        raise ValueError(f"beta must be a non-negative number, got {beta!r}")


def _check_labels(
    y: object, n: int, num_classes: int, device: torch.device
) -> torch.Tensor:
    """(n,) integer labels in [0, num_classes) on ``device``, as int64.

    uint8 labels (as IDX files store them) become int64: indexing with uint8 would select
    by mask; bool labels are rejected.
    """
    y = check_labels(y, "y", n=n, num_classes=num_classes)
    if y.device != device:
        raise ValueError(f"y must be on {device} like X, got {y.device}")
    return y


def _check_loss_inputs(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> torch.Tensor:
    """Check a loss's inputs; return the labels as int64."""
    _check_float("W", W, 2, "(C, D)")
    _check_float("X", X, 2, "(N, D)")
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X must have D = {W.shape[1]} columns like W, got {X.shape[1]}"
        )
    if X.dtype != W.dtype or X.device != W.device:
        raise ValueError(
            f"X and W must share dtype and device, got {X.dtype}/{X.device} "
            f"and {W.dtype}/{W.device}"
        )
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one example, got N = 0")
    if not isinstance(reg, (int, float)) or isinstance(reg, bool) or reg < 0:
        raise ValueError(f"reg must be a non-negative number, got {reg!r}")
    return _check_labels(y, X.shape[0], W.shape[0], X.device)


def _check_train_args(
    learning_rate: float, reg: float, num_iters: int, batch_size: int
) -> None:
    for name, value in (("num_iters", num_iters), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
        raise ValueError(
            f"learning_rate must be a positive number, got {learning_rate!r}"
        )
    if not isinstance(reg, (int, float)) or isinstance(reg, bool) or reg < 0:
        raise ValueError(f"reg must be a non-negative number, got {reg!r}")


# --------------------------------------------------------------------------------------
# Score function and softmax
# --------------------------------------------------------------------------------------


def append_ones(X: torch.Tensor) -> torch.Tensor:
    """The bias trick, Eq. (2): append a constant 1 to every example.

    Args:
        X: (N, D) examples.

    Returns:
        (N, D + 1) examples whose last column is 1, so that ``append_ones(X) @ Wb.T``
        equals ``X @ W.T + b`` for ``Wb = torch.cat([W, b[:, None]], dim=1)``.
    """
    _check_float("X", X, 2, "(N, D)")
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)  # (N, D + 1)


def softmax_naive(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Eq. (4) as written: exponentiate, then normalize. Overflows for large scores.

    ``exp`` overflows to inf above about 88.7 in float32 (709.8 in float64), and
    inf / inf is nan. Kept to show why :func:`softmax` subtracts the maximum.
    """
    _check_float("scores", scores)
    e = scores.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax, Eq. (7); like ``torch.softmax``.

    Subtracting :math:`m = \max_j s_j` changes nothing mathematically (the
    factor :math:`e^{-m}` cancels) but keeps every exponent at most 0, so
    ``exp`` cannot overflow, and the largest term is exactly 1, so the sum
    cannot underflow to 0.

    Args:
        scores: (..., C) class scores (``dim`` is the class axis).
        dim: the class axis.

    Returns:
        Probabilities of the same shape, summing to 1 along ``dim``.
    """
    _check_float("scores", scores)
    m = scores.amax(dim=dim, keepdim=True)  # (..., 1)
    e = (scores - m).exp()  # Eq. (7): every exponent <= 0
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable log of Eq. (4), like ``torch.log_softmax``.

    :math:`\log P_k = (s_k - m) - \log \sum_j e^{s_j - m}`: no ``log`` of a
    probability that rounded to 0, so the loss of a confidently wrong example
    stays finite.
    """
    _check_float("scores", scores)
    shifted = scores - scores.amax(dim=dim, keepdim=True)  # Eq. (7)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


# --------------------------------------------------------------------------------------
# Regularization
# --------------------------------------------------------------------------------------


def regularization(
    W: torch.Tensor, *, penalty: str = "l2", beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The regularizer R(W) of Eq. (9) and its (sub)gradient.

    Args:
        W: weights of any shape.
        penalty: ``"l2"``, ``"l1"`` or ``"elasticnet"`` (sklearn's names).
        beta: weight of the squared term of the elastic net; unused otherwise.

    Returns:
        ``(R, dR)``: a 0-dim tensor and a tensor shaped like ``W``. The L1
        subgradient at ``W = 0`` is 0 (``torch.sign``), as autograd's for
        ``abs``.
    """
    _check_float("W", W)
    _check_penalty(penalty, beta)
    if penalty == "l2":
        return W.square().sum(), 2 * W  # Eq. (9), L2
    if penalty == "l1":
        return W.abs().sum(), W.sign()  # Eq. (9), L1
    R = (beta * W.square() + W.abs()).sum()  # Eq. (9), elastic net
    return R, 2 * beta * W + W.sign()


# --------------------------------------------------------------------------------------
# Loss functions: each returns (loss, dW) for W (C, D), X (N, D), y (N,)
# --------------------------------------------------------------------------------------


def svm_loss_naive(
    W: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    reg: float = 0.0,
    *,
    margin: float = 1.0,
    penalty: str = "l2",
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiclass SVM loss, Eqs. (3) and (8), and its gradient, Eq. (10); loops.

    Args:
        W: (C, D) weights, one row per class (with the bias as a last column
            if X has a column of ones, Eq. (2)).
        X: (N, D) examples.
        y: (N,) integer labels in [0, C).
        reg: the regularization strength lambda (positional, as in the course).
        margin: the margin Delta of Eq. (3).
        penalty, beta: the regularizer R, see :func:`regularization`.

    Returns:
        ``(loss, dW)``: the 0-dim loss L(W) of Eq. (8) and its (C, D) gradient.
    """
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    C, N = W.shape[0], X.shape[0]  # W: (C, D), X: (N, D)
    labels = y.tolist()
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)  # (C, D)
    for i in range(N):
        scores = W @ X[i]  # Eq. (1): (C, D) @ (D,) -> (C,)
        correct = scores[labels[i]]
        for j in range(C):
            if j == labels[i]:
                continue
            m = scores[j] - correct + margin  # Eq. (3), one term
            if m > 0:
                loss += m
                dW[j] += X[i]  # Eq. (10), j != y_i
                dW[labels[i]] -= X[i]  # Eq. (10), the correct class
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss / N + reg * R, dW / N + reg * dR  # Eq. (8)


def svm_loss_vectorized(
    W: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    reg: float = 0.0,
    *,
    margin: float = 1.0,
    penalty: str = "l2",
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`svm_loss_naive`, with no Python loop."""
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = X @ W.T  # Eq. (1): (N, D) @ (D, C) -> (N, C)
    correct = scores[rows, y].unsqueeze(1)  # (N, 1)
    margins = (scores - correct + margin).clamp(min=0)  # Eq. (3): (N, C)
    margins[rows, y] = 0  # the sum skips j = y_i
    loss = margins.sum() / N
    # Eq. (10): coefficient of x_i in the gradient of each row w_j
    coeff = (margins > 0).to(W.dtype)  # 1 for every violating class
    coeff[rows, y] = -coeff.sum(dim=1)  # minus the number of violations
    dW = coeff.T @ X / N  # (C, N) @ (N, D) -> (C, D)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss + reg * R, dW + reg * dR  # Eq. (8)


def softmax_loss_naive(
    W: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    reg: float = 0.0,
    *,
    penalty: str = "l2",
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy loss, Eqs. (5), (7), (8), and its gradient, Eq. (11); loops.

    Args and Returns as in :func:`svm_loss_naive` (there is no margin).
    """
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    C, N = W.shape[0], X.shape[0]  # W: (C, D), X: (N, D)
    labels = y.tolist()
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)  # (C, D)
    for i in range(N):
        scores = W @ X[i]  # Eq. (1): (C, D) @ (D,) -> (C,)
        shifted = scores - scores.max()  # Eq. (7): every entry <= 0
        total = shifted.exp().sum()
        loss += total.log() - shifted[labels[i]]  # Eq. (5)
        for k in range(C):
            p = shifted[k].exp() / total  # Eq. (4)
            dW[k] += (p - float(k == labels[i])) * X[i]  # Eq. (11)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss / N + reg * R, dW / N + reg * dR  # Eq. (8)


def softmax_loss_vectorized(
    W: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    reg: float = 0.0,
    *,
    penalty: str = "l2",
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`softmax_loss_naive`, with no Python loop."""
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = X @ W.T  # Eq. (1): (N, D) @ (D, C) -> (N, C)
    logp = log_softmax(scores, dim=1)  # Eqs. (4), (7): (N, C)
    loss = -logp[rows, y].mean()  # Eq. (5), averaged
    dscores = logp.exp()  # Eq. (11): P - onehot(y), (N, C)
    dscores[rows, y] -= 1
    dW = dscores.T @ X / N  # (C, N) @ (N, D) -> (C, D)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss + reg * R, dW + reg * dR  # Eq. (8)


# --------------------------------------------------------------------------------------
# The classifier
# --------------------------------------------------------------------------------------


class LinearClassifier:
    """A linear classifier trained by minibatch SGD on an analytic loss gradient.

    The counterpart of ``torch.nn.Linear(in_features, out_features)`` plus a loss: it
    holds ``weight`` (C, D) and ``bias`` (C,), its ``state_dict`` has ``nn.Linear``'s
    keys, and calling it returns the scores ``x @ weight.T + bias``. Unlike
    ``nn.Module`` it has no autograd: ``train`` (the assignment's name, which is why
    this is not an ``nn.Module``, whose ``train`` switches modes) steps with the
    gradient that the loss function returns.

    Internally the weights are one (C, D + 1) matrix ``W = [weight | bias]``, and the
    training examples get the bias trick, Eq. (2). The regularizer of Eq. (9) applies
    to ``weight`` only, not to ``bias``, as in scikit-learn.

    Args:
        in_features: D, the size of one example.
        out_features: C, the number of classes.
        loss: ``loss(W, X, y, reg) -> (loss, dW)``, e.g. :func:`svm_loss_vectorized`.
        penalty, beta: the regularizer, see :func:`regularization`.
        init_std: weights start as ``init_std * randn``; the bias starts at 0.
        generator: the RNG that draws the initial weights.
        device, dtype: where the weights live and their dtype (default float32).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        loss: LossFn,
        penalty: str = "l2",
        beta: float = 1.0,
        init_std: float = 1e-3,
        generator: torch.Generator,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        for name, value in (
            ("in_features", in_features),
            ("out_features", out_features),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not callable(loss):
            raise TypeError(
                "loss must be callable as loss(W, X, y, reg), "
                f"got {type(loss).__name__}"
            )
        _check_penalty(penalty, beta)
        if not isinstance(init_std, (int, float)) or init_std < 0:
            raise ValueError(
                f"init_std must be a non-negative number, got {init_std!r}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.loss, self.penalty, self.beta = loss, penalty, beta
        dtype = dtype or torch.get_default_dtype()
        weight = init_std * torch.randn(
            out_features, in_features, generator=generator, dtype=dtype
        )
        bias = torch.zeros(out_features, 1, dtype=dtype)
        self.W = torch.cat([weight, bias], dim=1).to(device)  # (C, D + 1), Eq. (2)

    @property
    def weight(self) -> torch.Tensor:
        """(C, D) view of the weights, one template per class."""
        return self.W[:, :-1]

    @property
    def bias(self) -> torch.Tensor:
        """(C,) view of the biases."""
        return self.W[:, -1]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Copies of ``weight`` and ``bias``, loadable into ``nn.Linear``."""
        return {"weight": self.weight.clone(), "bias": self.bias.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``weight`` (C, D) and ``bias`` (C,) in, e.g. from ``nn.Linear``."""
        if set(state) != {"weight", "bias"}:
            raise ValueError(
                f"state must have keys ['bias', 'weight'], got {sorted(state)}"
            )
        C, D = self.out_features, self.in_features
        for key, shape in (("weight", (C, D)), ("bias", (C,))):
            if tuple(state[key].shape) != shape:
                raise ValueError(
                    f"{key} must have shape {shape}, got {tuple(state[key].shape)}"
                )
        with torch.no_grad():
            self.W[:, :-1] = state["weight"]
            self.W[:, -1] = state["bias"]

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        _check_float("x", x)
        if x.dim() < 2:
            raise ValueError(
                f"x must have shape (N, D) or (N, ...), got {tuple(x.shape)}"
            )
        x = x.flatten(1)  # (N, D)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have D = {self.in_features} features, got {x.shape[1]}"
            )
        if x.dtype != self.W.dtype or x.device != self.W.device:
            raise ValueError(
                f"x must be {self.W.dtype} on {self.W.device} like the weights, "
                f"got {x.dtype} on {x.device}"
            )
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) scores of (N, D) or (N, ...) examples, Eq. (1), like ``nn.Linear``."""
        x = self._check_x(x)
        return torch.addmm(self.bias, x, self.weight.T)  # (N, D) @ (D, C) + (C,)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) int64 labels: the class with the highest score."""
        return self(x).argmax(dim=1)

    def train(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        *,
        learning_rate: float = 1e-3,
        reg: float = 1e-5,
        num_iters: int = 100,
        batch_size: int = 200,
        generator: torch.Generator,
    ) -> list[float]:
        """Minibatch SGD, Eq. (12), on the loss of Eq. (8).

        Each step draws ``batch_size`` examples with replacement (as the
        course does), computes ``loss(W, [X_b | 1], y_b, 0)``, adds
        ``reg * R(weight)``, and steps.

        Args:
            X: (N, D) or (N, ...) examples, on the weights' device and dtype.
            y: (N,) integer labels in [0, C).
            learning_rate: the step size alpha of Eq. (12).
            reg: the regularization strength lambda of Eq. (8).
            num_iters: number of SGD steps.
            batch_size: examples per step, B.
            generator: the (CPU) RNG that draws the minibatches.

        Returns:
            The loss L(W) of each step's minibatch, before the step.
        """
        X = self._check_x(X)
        N = X.shape[0]
        y = _check_labels(y, N, self.out_features, X.device)  # (N,) int64
        _check_train_args(learning_rate, reg, num_iters, batch_size)
        X1 = append_ones(X)  # Eq. (2), once for all steps: (N, D + 1)
        losses = self.W.new_empty(num_iters)  # on the device: no sync per step
        name = type(self).__name__
        pen, beta = self.penalty, self.beta
        for t in progress(range(num_iters), desc=f"{name} SGD"):
            idx = torch.randint(N, (batch_size,), generator=generator)
            idx = idx.to(X.device)  # (B,)
            # data term of Eq. (8) and its gradient, (C, D + 1)
            loss, dW = self.loss(self.W, X1[idx], y[idx], 0.0)
            R, dR = regularization(self.weight, penalty=pen, beta=beta)
            losses[t] = loss + reg * R  # Eq. (8)
            dW[:, :-1] += reg * dR  # the bias is not regularized
            self.W -= learning_rate * dW  # Eq. (12)
        return losses.tolist()


class LinearSVM(LinearClassifier):
    """A :class:`LinearClassifier` with the multiclass SVM loss (vectorized)."""

    def __init__(self, in_features: int, out_features: int, **kwargs: Any) -> None:
        super().__init__(in_features, out_features, loss=svm_loss_vectorized, **kwargs)


class SoftmaxClassifier(LinearClassifier):
    """A :class:`LinearClassifier` with the softmax loss (vectorized).

    The assignment calls it ``Softmax``; this name avoids a clash with
    ``torch.nn.Softmax``.
    """

    def __init__(self, in_features: int, out_features: int, **kwargs: Any) -> None:
        super().__init__(
            in_features, out_features, loss=softmax_loss_vectorized, **kwargs
        )
