"""kNN chapter exercises: each checker passes a right answer, names wrong ones."""

import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from dlcv import exercises
from dlcv.exercises.knn import cosine_knn_reference


def l1_broadcast(x_test, x_train):
    return (x_test[:, None, :] - x_train[None, :, :]).abs().sum(dim=2)


def test_l1_distances_accepts_a_broadcast_solution(capsys):
    assert exercises.check_l1_distances(l1_broadcast)
    assert "✓ l1_distances: passed all 6 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # a forgotten absolute value: differences cancel
        (lambda a, b: (a[:, None] - b[None]).sum(2), "case 1 of 6 failed"),
        # squared differences: the L2 distance squared, not L1
        (lambda a, b: ((a[:, None] - b[None]) ** 2).sum(2), "should be"),
        # the wrong axis: (M, N) summed over N instead of D
        (lambda a, b: (a[:, None] - b[None]).abs().sum(1), "should have shape (5, 7)"),
        # float32 always: loses float64 inputs' dtype
        (
            lambda a, b: l1_broadcast(a.float(), b.float()),
            "should have dtype torch.float64",
        ),
    ],
)
def test_l1_distances_names_typical_mistakes(wrong, problem):
    result = exercises.check_l1_distances(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: x_test = tensor of shape" in result.message


def cosine_knn(x_train, y_train, x_test, k):
    a = x_test / x_test.norm(dim=1, keepdim=True)
    b = x_train / x_train.norm(dim=1, keepdim=True)
    distances = 1 - a @ b.T
    nearest = distances.topk(k, dim=1, largest=False).indices
    counts = torch.zeros(len(x_test), int(y_train.max()) + 1, dtype=torch.long)
    counts.scatter_add_(1, y_train[nearest], torch.ones_like(nearest))
    return counts.argmax(dim=1)  # first maximum: the smallest label


def test_cosine_knn_accepts_a_correct_solution():
    assert exercises.check_cosine_knn(cosine_knn)


def test_cosine_knn_reference_agrees_with_scikit_learn():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(60, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (60,), generator=g)
    q = torch.randn(25, 5, generator=g, dtype=torch.float64)
    for k in (1, 4, 9):
        sk = KNeighborsClassifier(k, metric="cosine", algorithm="brute").fit(x, y)
        expected = torch.from_numpy(sk.predict(q))
        assert torch.equal(cosine_knn_reference(x, y, q, k), expected)


def test_cosine_knn_names_typical_mistakes():
    def l2_knn(x_train, y_train, x_test, k):  # the chapter's L2 distance instead
        nearest = torch.cdist(x_test, x_train).topk(k, largest=False).indices
        return torch.mode(y_train[nearest], dim=1).values

    def farthest(x_train, y_train, x_test, k):  # similarity taken as a distance
        sim = (
            torch.nn.functional.normalize(x_test, dim=1)
            @ torch.nn.functional.normalize(x_train, dim=1).T
        )
        nearest = sim.topk(k, largest=False).indices
        return torch.mode(y_train[nearest], dim=1).values

    for wrong in (l2_knn, farthest):
        result = exercises.check_cosine_knn(wrong)
        assert not result and result.attempted
        assert (
            "should be" in result.message
            and "inputs: x_train = tensor" in result.message
        )

    def unnormalized_in_place(x_train, y_train, x_test, k):
        x_train /= x_train.norm(dim=1, keepdim=True)
        return cosine_knn(x_train, y_train, x_test, k)

    result = exercises.check_cosine_knn(unnormalized_in_place)
    assert "modified its input x_train in place" in result.message
