r"""Linear classifiers: scores, SVM and softmax losses, regularizers, SGD (lecture 3).

Taught by the chapter "Linear classifiers" (``book/linear.md``). ``Eq. (3.k)`` tags are
its equation numbers: (3.1) ``lin-score``, (3.2) ``lin-bias-trick``, (3.3) ``lin-svm``,
(3.4) ``lin-softmax``, (3.5) ``lin-ce``, (3.7) ``lin-stable-softmax``,
(3.8) ``lin-full-loss``, (3.9) ``lin-reg``, (3.10) ``lin-svm-grad``,
(3.11) ``lin-ce-grad`` and (3.12) ``lin-sgd``.

Layout. ``W`` is (C, D), one row per class, like ``torch.nn.Linear(D, C).weight``; a
batch ``X`` is (N, D); labels ``y`` are (N,) integers in [0, C). The loss functions take
no bias: :func:`append_ones` applies the bias trick, so that the last column of ``W`` is
``b``. :class:`LinearClassifier` does so internally and exposes ``weight`` (C, D) and
``bias`` (C,) under ``nn.Linear``'s ``state_dict`` keys.

Torch counterparts: ``nn.Linear`` for the scores, ``F.cross_entropy`` for Eq. (3.5)
averaged, ``C * F.multi_margin_loss(s, y, margin=Delta)`` for the SVM's data term in
Eq. (3.8), ``torch.softmax`` and ``torch.log_softmax``. scikit-learn counterparts:
``LogisticRegression`` and ``LinearSVC``. Papers: Weston and Watkins (1999) for the
multiclass SVM loss, Zou and Hastie (2005) for the elastic net.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dlcv._checks import (
    check_callable,
    check_finite_number,
    check_float_tensor,
    check_in,
    check_labels,
    check_positive_int,
    check_same_device,
    check_shape,
    check_tensors_match,
)
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


def _check_loss_inputs(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> torch.Tensor:
    """Check a loss's inputs (shapes, dtype, device, reg >= 0); return y as int64."""
    C, D = check_float_tensor(W, "W", ndim=2).shape
    check_shape(check_float_tensor(X, "X"), "X", ("N", D))
    check_tensors_match(X=X, W=W)
    check_positive_int(len(X), "N, the number of examples in X")
    check_finite_number(reg, "reg", low=0)
    y = check_labels(y, "y", n=len(X), num_classes=C)  # (N,) int64
    check_same_device(X=X, y=y)
    return y


# --------------------------------------------------------------------------------------
# Score function and softmax
# --------------------------------------------------------------------------------------


def append_ones(X: torch.Tensor) -> torch.Tensor:
    """The bias trick, Eq. (3.2): append a constant 1 to every example.

    Args:
        X: (N, D) examples.

    Returns:
        (N, D + 1) examples whose last column is 1, so that ``append_ones(X) @ Wb.T``
        equals ``X @ W.T + b`` for ``Wb = torch.cat([W, b[:, None]], dim=1)``.
    """
    check_float_tensor(X, "X", ndim=2)
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1)  # (N, D + 1)


def softmax_naive(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Eq. (3.4) as written: exponentiate, then normalize. Overflows for large scores.

    ``exp`` overflows to inf above about 88.7 in float32 (709.8 in float64), and
    inf / inf is nan. Kept to show why :func:`softmax` subtracts the maximum.
    """
    check_float_tensor(scores, "scores")
    e = scores.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax, Eq. (3.7); like ``torch.softmax``.

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
    check_float_tensor(scores, "scores")
    m = scores.amax(dim=dim, keepdim=True)  # (..., 1)
    e = (scores - m).exp()  # Eq. (3.7): every exponent <= 0
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable log of Eq. (3.4), like ``torch.log_softmax``.

    :math:`\log P_k = (s_k - m) - \log \sum_j e^{s_j - m}`: no ``log`` of a
    probability that rounded to 0, so the loss of a confidently wrong example
    stays finite.
    """
    check_float_tensor(scores, "scores")
    shifted = scores - scores.amax(dim=dim, keepdim=True)  # Eq. (3.7)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


# --------------------------------------------------------------------------------------
# Regularization
# --------------------------------------------------------------------------------------


def regularization(
    W: torch.Tensor, *, penalty: str = "l2", beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The regularizer R(W) of Eq. (3.9) and its (sub)gradient.

    Args:
        W: weights of any shape.
        penalty: ``"l2"``, ``"l1"`` or ``"elasticnet"`` (sklearn's names).
        beta: weight of the squared term of the elastic net; unused otherwise.

    Returns:
        ``(R, dR)``: a 0-dim tensor and a tensor shaped like ``W``. The L1
        subgradient at ``W = 0`` is 0 (``torch.sign``), as autograd's for
        ``abs``.
    """
    check_float_tensor(W, "W")
    check_in(penalty, "penalty", PENALTIES)
    check_finite_number(beta, "beta", low=0)
    if penalty == "l2":
        return W.square().sum(), 2 * W  # Eq. (3.9), L2
    if penalty == "l1":
        return W.abs().sum(), W.sign()  # Eq. (3.9), L1
    R = (beta * W.square() + W.abs()).sum()  # Eq. (3.9), elastic net
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
    """Multiclass SVM loss, Eqs. (3.3) and (3.8), and its gradient, Eq. (3.10); loops.

    Args:
        W: (C, D) weights, one row per class (with the bias as a last column
            if X has a column of ones, Eq. (3.2)).
        X: (N, D) examples.
        y: (N,) integer labels in [0, C).
        reg: the regularization strength lambda (positional, as in the course).
        margin: the margin Delta of Eq. (3.3).
        penalty: the regularizer R, see :func:`regularization`.
        beta: the weight of the elastic net's squared term, see
            :func:`regularization`.

    Returns:
        ``(loss, dW)``: the 0-dim loss L(W) of Eq. (3.8) and its (C, D) gradient.
    """
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    check_finite_number(margin, "margin", low=0)
    C, N = W.shape[0], X.shape[0]  # W: (C, D), X: (N, D)
    labels = y.tolist()
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)  # (C, D)
    for i in range(N):
        scores = W @ X[i]  # Eq. (3.1): (C, D) @ (D,) -> (C,)
        correct = scores[labels[i]]
        for j in range(C):
            if j == labels[i]:
                continue
            m = scores[j] - correct + margin  # Eq. (3.3), one term
            if m > 0:
                loss += m
                dW[j] += X[i]  # Eq. (3.10), j != y_i
                dW[labels[i]] -= X[i]  # Eq. (3.10), the correct class
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss / N + reg * R, dW / N + reg * dR  # Eq. (3.8)


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
    check_finite_number(margin, "margin", low=0)
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = X @ W.T  # Eq. (3.1): (N, D) @ (D, C) -> (N, C)
    correct = scores[rows, y].unsqueeze(1)  # (N, 1)
    margins = (scores - correct + margin).clamp(min=0)  # Eq. (3.3): (N, C)
    margins[rows, y] = 0  # the sum skips j = y_i
    loss = margins.sum() / N
    # Eq. (3.10): coefficient of x_i in the gradient of each row w_j
    coeff = (margins > 0).to(W.dtype)  # 1 for every violating class
    coeff[rows, y] = -coeff.sum(dim=1)  # minus the number of violations
    dW = coeff.T @ X / N  # (C, N) @ (N, D) -> (C, D)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss + reg * R, dW + reg * dR  # Eq. (3.8)


def softmax_loss_naive(
    W: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    reg: float = 0.0,
    *,
    penalty: str = "l2",
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy loss and its gradient, Eqs. (3.5), (3.7), (3.8) and (3.11); loops.

    Args and Returns as in :func:`svm_loss_naive` (there is no margin).
    """
    y = _check_loss_inputs(W, X, y, reg)  # (N,) int64
    C, N = W.shape[0], X.shape[0]  # W: (C, D), X: (N, D)
    labels = y.tolist()
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)  # (C, D)
    for i in range(N):
        scores = W @ X[i]  # Eq. (3.1): (C, D) @ (D,) -> (C,)
        shifted = scores - scores.max()  # Eq. (3.7): every entry <= 0
        total = shifted.exp().sum()
        loss += total.log() - shifted[labels[i]]  # Eq. (3.5)
        for k in range(C):
            p = shifted[k].exp() / total  # Eq. (3.4)
            dW[k] += (p - float(k == labels[i])) * X[i]  # Eq. (3.11)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss / N + reg * R, dW / N + reg * dR  # Eq. (3.8)


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
    scores = X @ W.T  # Eq. (3.1): (N, D) @ (D, C) -> (N, C)
    logp = log_softmax(scores, dim=1)  # Eqs. (3.4), (3.7): (N, C)
    loss = -logp[rows, y].mean()  # Eq. (3.5), averaged
    dscores = logp.exp()  # Eq. (3.11): P - onehot(y), (N, C)
    dscores[rows, y] -= 1
    dW = dscores.T @ X / N  # (C, N) @ (N, D) -> (C, D)
    R, dR = regularization(W, penalty=penalty, beta=beta)
    return loss + reg * R, dW + reg * dR  # Eq. (3.8)


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
    training examples get the bias trick, Eq. (3.2). The regularizer of Eq. (3.9)
    applies to ``weight`` only, not to ``bias``, as in scikit-learn.

    Args:
        in_features: D, the size of one example.
        out_features: C, the number of classes.
        loss: ``loss(W, X, y, reg) -> (loss, dW)``, e.g. :func:`svm_loss_vectorized`.
        penalty: the regularizer, see :func:`regularization`.
        beta: the weight of the elastic net's squared term, see
            :func:`regularization`.
        init_std: weights start as ``init_std * randn``; the bias starts at 0.
        generator: the RNG that draws the initial weights.
        device: where the weights live.
        dtype: the weights' dtype; by default torch's default dtype (float32).
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
        check_positive_int(in_features, "in_features")
        check_positive_int(out_features, "out_features")
        check_callable(loss, "loss", signature="loss(W, X, y, reg)")
        check_in(penalty, "penalty", PENALTIES)
        check_finite_number(beta, "beta", low=0)
        check_finite_number(init_std, "init_std", low=0)
        self.in_features, self.out_features = in_features, out_features
        self.loss, self.penalty, self.beta = loss, penalty, beta
        dtype = dtype or torch.get_default_dtype()
        weight = init_std * torch.randn(
            out_features, in_features, generator=generator, dtype=dtype
        )
        bias = torch.zeros(out_features, 1, dtype=dtype)
        self.W = torch.cat([weight, bias], dim=1).to(device)  # (C, D + 1), Eq. (3.2)

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
        """(N, D) or (N, ...) examples like the weights, flattened to (N, D)."""
        x = check_float_tensor(x, "x", min_ndim=2).flatten(1)  # (N, D)
        check_shape(x, "x.flatten(1)", ("N", self.in_features))
        check_tensors_match(x=x, weights=self.W)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) scores of (N, D) or (N, ...) examples, Eq. (3.1), as ``nn.Linear``."""
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
        """Minibatch SGD, Eq. (3.12), on the loss of Eq. (3.8).

        Each step draws ``batch_size`` examples with replacement (as the
        course does), computes ``loss(W, [X_b | 1], y_b, 0)``, adds
        ``reg * R(weight)``, and steps.

        Args:
            X: (N, D) or (N, ...) examples, on the weights' device and dtype.
            y: (N,) integer labels in [0, C).
            learning_rate: the step size alpha of Eq. (3.12).
            reg: the regularization strength lambda of Eq. (3.8).
            num_iters: number of SGD steps.
            batch_size: examples per step, B.
            generator: the (CPU) RNG that draws the minibatches.

        Returns:
            The loss L(W) of each step's minibatch, before the step.
        """
        X = self._check_x(X)
        N = X.shape[0]
        y = check_labels(y, "y", n=N, num_classes=self.out_features)  # (N,) int64
        check_same_device(X=X, y=y)
        check_finite_number(learning_rate, "learning_rate", low=0, low_open=True)
        check_finite_number(reg, "reg", low=0)
        check_positive_int(num_iters, "num_iters")
        check_positive_int(batch_size, "batch_size")
        X1 = append_ones(X)  # Eq. (3.2), once for all steps: (N, D + 1)
        losses = self.W.new_empty(num_iters)  # on the device: no sync per step
        name = type(self).__name__
        pen, beta = self.penalty, self.beta
        for t in progress(range(num_iters), desc=f"{name} SGD"):
            idx = torch.randint(N, (batch_size,), generator=generator)
            idx = idx.to(X.device)  # (B,)
            # data term of Eq. (3.8) and its gradient, (C, D + 1)
            loss, dW = self.loss(self.W, X1[idx], y[idx], 0.0)
            R, dR = regularization(self.weight, penalty=pen, beta=beta)
            losses[t] = loss + reg * R  # Eq. (3.8)
            dW[:, :-1] += reg * dR  # the bias is not regularized
            self.W -= learning_rate * dW  # Eq. (3.12)
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
