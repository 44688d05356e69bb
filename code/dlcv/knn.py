r"""k-nearest-neighbour classification (lecture 2, chapter "Image classification").

The chapter ``book/knn.md`` teaches this module; the course's assignment 1 asks for
the same three distance functions and the same cross-validation.

The L1 (Manhattan) and L2 (Euclidean) distances between a test image :math:`I_1` and a
training image :math:`I_2`, summed over pixels :math:`p`:

.. math::

    d_1(I_1, I_2) = \sum_p \lvert I_1^p - I_2^p \rvert \qquad \text{(L1)} \quad (1.1)

    d_2(I_1, I_2) = \sqrt{\sum_p (I_1^p - I_2^p)^2} \qquad \text{(L2)} \quad (1.2)

Without loops, the squared L2 distance expands into one matrix product:

.. math::

    \lVert x-y \rVert^2 = \lVert x \rVert^2 + \lVert y \rVert^2 - 2 x^\top y \quad (1.3)

Training costs O(1) (store the data); predicting costs O(N D) per test example for N
training examples of dimension D.

Torch and scikit-learn counterparts: :func:`torch.cdist` for the distances,
``sklearn.neighbors.KNeighborsClassifier(algorithm="brute")`` for the classifier. Like
it, ties in the vote go to the smallest label. Unlike it, ties in distance at the k-th
neighbour go to the training example with the smaller index, always.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from dlcv._checks import (
    check_float_tensor,
    check_in,
    check_labels,
    check_positive_int,
    check_same_device,
    check_shape,
    check_tensor,
    check_tensors_match,
)
from dlcv.runtime import progress

__all__ = [
    "KNearestNeighbor",
    "best_k",
    "cross_validate",
    "distances_no_loops",
    "distances_one_loop",
    "distances_two_loops",
    "vote",
]


def _check_pair(
    x1: torch.Tensor, x2: torch.Tensor, p: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two batches of examples and flatten them to (M, D) and (N, D)."""
    x1 = check_float_tensor(x1, "x1", min_ndim=2).flatten(1)  # (M, D)
    x2 = check_float_tensor(x2, "x2", min_ndim=2).flatten(1)  # (N, D)
    check_shape(x2, "x2.flatten(1)", ("N", x1.shape[1]))
    check_tensors_match(x1=x1, x2=x2)
    check_in(p, "p", (1, 2))
    return x1, x2


def distances_two_loops(
    x1: torch.Tensor, x2: torch.Tensor, *, p: float = 2
) -> torch.Tensor:
    """Distances between each row of ``x1`` and each row of ``x2``, one pair at a time.

    Args:
        x1: (M, D) or (M, ...) examples, e.g. test images.
        x2: (N, D) or (N, ...) examples, e.g. training images.
        p: 1 for the L1 distance, Eq. (1.1); 2 for the L2 distance, Eq. (1.2).

    Returns:
        (M, N) distances, like ``torch.cdist(x1, x2, p=p)``.
    """
    x1, x2 = _check_pair(x1, x2, p)
    M, N = x1.shape[0], x2.shape[0]
    dists = x1.new_zeros(M, N)
    for i in range(M):
        for j in range(N):
            diff = x1[i] - x2[j]  # (D,)
            if p == 1:
                dists[i, j] = diff.abs().sum()  # Eq. (1.1)
            else:
                dists[i, j] = diff.square().sum().sqrt()  # Eq. (1.2)
    return dists


def distances_one_loop(
    x1: torch.Tensor, x2: torch.Tensor, *, p: float = 2
) -> torch.Tensor:
    """Like :func:`distances_two_loops`, one row of ``x1`` against all of ``x2``."""
    x1, x2 = _check_pair(x1, x2, p)
    dists = x1.new_zeros(x1.shape[0], x2.shape[0])  # (M, N)
    for i in range(x1.shape[0]):
        diff = x2 - x1[i]  # (N, D) by broadcasting (D,) against (N, D)
        if p == 1:
            dists[i] = diff.abs().sum(dim=1)  # Eq. (1.1)
        else:
            dists[i] = diff.square().sum(dim=1).sqrt()  # Eq. (1.2)
    return dists


def distances_no_loops(
    x1: torch.Tensor,
    x2: torch.Tensor,
    *,
    p: float = 2,
    block_elements: int | None = None,
) -> torch.Tensor:
    """Like :func:`distances_two_loops`, with no Python loop over examples.

    For p = 2 this is Eq. (1.3): one matrix product plus two vectors of squared norms.

    For p = 1 there is no such identity. Broadcasting
    ``x1[:, None, :] - x2[None, :, :]`` builds an (M, N, D) difference tensor, 31 GB for
    10,000 test and 60,000 training images, so it is built block by block: (m, n) blocks
    of examples with m n D <= ``block_elements``. The loops run over blocks, not
    examples. Small blocks that stay in the CPU's cache are several times faster than
    large ones; on CUDA, large blocks keep the GPU busy.

    Args:
        x1: (M, D) or (M, ...) examples, e.g. test images.
        x2: (N, D) or (N, ...) examples, e.g. training images.
        p: 1 for the L1 distance, Eq. (1.1); 2 for the L2 distance, Eq. (1.2).
        block_elements: bound on m n D for p = 1; by default 2**21 on the CPU, 2**27
            on CUDA.

    Returns:
        (M, N) distances, like ``torch.cdist(x1, x2, p=p)``.
    """
    x1, x2 = _check_pair(x1, x2, p)
    if p == 2:
        sq1 = x1.square().sum(dim=1, keepdim=True)  # (M, 1)
        sq2 = x2.square().sum(dim=1)  # (N,)
        # Eq. (1.3): (M, D) @ (D, N) -> (M, N)
        sq = torch.addmm(sq2, x1, x2.T, alpha=-2).add_(sq1)
        return sq.clamp_(min=0).sqrt_()  # rounding can make tiny squares negative
    if block_elements is None:
        block_elements = 2**27 if x1.device.type == "cuda" else 2**21
    (M, D), N = x1.shape, x2.shape[0]
    # A near-square block, widened when M is small.
    bm = min(M, max(1, math.isqrt(block_elements // max(D, 1))))
    bn = min(N, max(1, block_elements // (max(D, 1) * bm)))
    dists = x1.new_empty(M, N)
    for i in range(0, M, bm):
        for j in range(0, N, bn):
            # (m, 1, D) - (1, n, D) -> (m, n, D), then Eq. (1.1) sums over D -> (m, n)
            diff = x1[i : i + bm, None, :] - x2[None, j : j + bn, :]
            dists[i : i + bm, j : j + bn] = diff.abs_().sum(dim=2)
    return dists


def vote(neighbor_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Majority vote over neighbour labels; a tie goes to the smallest label.

    Args:
        neighbor_labels: (M, k) integer labels of each example's k nearest neighbours.
        num_classes: C, the number of classes.

    Returns:
        (M,) int64 predicted labels.
    """
    check_tensor(neighbor_labels, "neighbor_labels", ndim=2)
    ones = torch.ones_like(neighbor_labels, dtype=torch.float32)
    counts = ones.new_zeros(neighbor_labels.shape[0], num_classes)  # (M, C)
    counts.scatter_add_(1, neighbor_labels.long(), ones)
    return counts.argmax(dim=1)  # argmax returns the first maximum: the smallest label


class KNearestNeighbor:
    """k-nearest-neighbour classifier with L1 or L2 distance.

    Args:
        k: number of neighbours that vote.
        p: 1 for L1, 2 for L2 distance.
        batch_size: test examples processed at once; bounds memory at batch_size x N.

    ``fit`` only stores the data: training is O(1). ``predict`` costs O(N D) per test
    example. Tensors stay on the device of the training data.
    """

    def __init__(self, k: int = 1, *, p: float = 2, batch_size: int = 2048) -> None:
        self.k = check_positive_int(k, "k")
        self.p = check_in(p, "p", (1, 2))
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.x_train: torch.Tensor | None = None
        self.y_train: torch.Tensor | None = None

    def fit(self, x_train: torch.Tensor, y_train: torch.Tensor) -> KNearestNeighbor:
        """Memorize the training data.

        Args:
            x_train: (N, ...) finite float examples.
            y_train: (N,) integer labels >= 0.

        Returns:
            The classifier itself.
        """
        x_train = check_float_tensor(x_train, "x_train", min_ndim=2, finite=True)
        x_train = x_train.flatten(1)  # (N, D)
        y_train = check_labels(y_train, "y_train", n=x_train.shape[0])  # (N,) int64
        check_positive_int(x_train.shape[0], "the number of training examples")
        check_same_device(x_train=x_train, y_train=y_train)
        self.x_train = x_train  # (N, D)
        self.y_train = y_train  # (N,)
        self.num_classes = int(y_train.max()) + 1
        self._sq_norms = x_train.square().sum(dim=1)  # (N,), reused by every prediction
        return self

    def kneighbors(
        self, x: torch.Tensor, k: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The k nearest training examples of each row of ``x``, nearest first.

        Returns:
            ``(distances, indices)``, both (M, k). Equal distances are ordered by index.
        """
        if self.x_train is None:
            raise RuntimeError(
                "call fit(x_train, y_train) before kneighbors or predict"
            )
        k = self.k if k is None else check_positive_int(k, "k")
        N = self.x_train.shape[0]
        check_positive_int(k, "k", maximum=N)  # at most the training examples
        x, _ = _check_pair(x, self.x_train[:1], self.p)
        dists, idxs = [], []
        # One (B, N) buffer for all batches: a fresh allocation per batch costs page
        # faults on every batch (about 10% of the time on a CPU).
        buffer = (
            x.new_empty(min(self.batch_size, x.shape[0]), N) if self.p == 2 else None
        )
        for s in range(0, x.shape[0], self.batch_size):
            xb = x[s : s + self.batch_size]  # (B, D)
            if self.p == 2:
                # Eq. (1.3) without the constant ||x||^2, which does not change the
                # ranking: (B, D) @ (D, N) -> (B, N).
                out = buffer[: len(xb)]
                scores = torch.addmm(
                    self._sq_norms, xb, self.x_train.T, alpha=-2, out=out
                )
            else:
                scores = distances_no_loops(xb, self.x_train, p=1)  # (B, N)
            d, i = _smallest_k(scores, k)  # (B, k), (B, k)
            if self.p == 2:
                d = d.add(xb.square().sum(dim=1, keepdim=True)).clamp_(min=0).sqrt_()
            dists.append(d)
            idxs.append(i)
        return torch.cat(dists), torch.cat(idxs)

    def predict(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """(M,) predicted labels for (M, ...) examples ``x``.

        Args:
            x: (M, ...) examples.
            k: number of neighbours that vote; ``None`` for ``self.k``.

        Returns:
            (M,) int64 predicted labels.
        """
        _, idx = self.kneighbors(x, k)  # (M, k)
        return vote(self.y_train[idx], self.num_classes)

    def score(self, x: torch.Tensor, y: torch.Tensor, k: int | None = None) -> float:
        """Accuracy of ``predict(x, k)`` against (M,) labels ``y``."""
        pred = self.predict(x, k)  # (M,)
        y = check_labels(y, "y", n=pred.shape[0]).to(pred.device)
        return (pred == y).float().mean().item()


def _smallest_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest entries of each row, ascending; ties go to the smaller column."""
    # One more than asked, to see ties at the border.
    extra = min(k + 1, scores.shape[1])
    vals, idx = scores.topk(extra, dim=1, largest=False, sorted=True)  # (B, k + 1)
    # topk orders equal values arbitrarily. A row can only be affected if two of its
    # k + 1 smallest values are equal (if the (k+1)-th is larger than the k-th, no value
    # outside the selection ties with it). Such rows, rare in real data, are redone with
    # a stable sort.
    tied = (vals[:, 1:] == vals[:, :-1]).any(dim=1)  # (B,)
    if tied.any():
        rows = tied.nonzero().squeeze(1)
        v, i = scores[rows].sort(dim=1, stable=True)
        vals[rows], idx[rows] = v[:, :extra], i[:, :extra]
    return vals[:, :k], idx[:, :k]


def cross_validate(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    k_choices: Sequence[int],
    num_folds: int = 5,
    p: float = 2,
) -> torch.Tensor:
    """Accuracy of kNN for each k on each of ``num_folds`` folds.

    The data are split into ``num_folds`` contiguous folds (shuffle them first); each
    fold is predicted from the other folds. The neighbours are found once per fold for
    the largest k, and every smaller k reuses the first k of them.

    Returns:
        (len(k_choices), num_folds) accuracies.
    """
    x = check_float_tensor(x, "x", min_ndim=2, finite=True)
    y = check_labels(y, "y", n=x.shape[0])
    num_folds = check_positive_int(num_folds, "num_folds", minimum=2, maximum=len(x))
    check_positive_int(len(k_choices), "len(k_choices), the number of k to try")
    ks = [check_positive_int(k, "each k") for k in k_choices]
    x_folds, y_folds = torch.chunk(x, num_folds), torch.chunk(y, num_folds)
    acc = torch.zeros(len(ks), num_folds)
    for f in progress(range(num_folds), desc="cross-validation folds"):
        rest = [i for i in range(num_folds) if i != f]
        model = KNearestNeighbor(max(ks), p=p).fit(
            torch.cat([x_folds[i] for i in rest]), torch.cat([y_folds[i] for i in rest])
        )
        _, idx = model.kneighbors(x_folds[f])  # (M_f, max k), nearest first
        neighbor_labels = model.y_train[idx]  # (M_f, max k)
        for j, k in enumerate(ks):
            pred = vote(neighbor_labels[:, :k], model.num_classes)
            acc[j, f] = (pred == y_folds[f]).float().mean().item()
    return acc


def best_k(k_choices: Sequence[int], accuracies: torch.Tensor) -> int:
    """The k with the highest mean accuracy over folds; a tie goes to the smallest k."""
    check_float_tensor(accuracies, "accuracies", ndim=2, finite=True)
    check_shape(accuracies, "accuracies (one row per k)", (len(k_choices), "folds"))
    means = accuracies.mean(dim=1)
    best = means.max()
    return min(k for k, m in zip(k_choices, means.tolist(), strict=False) if m == best)
