import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier
from torch.testing import assert_close

from dlcv import knn, toy

DISTANCES = [knn.distances_two_loops, knn.distances_one_loop, knn.distances_no_loops]


def rand(*shape, seed=0):
    """Uniform [0, 1) numbers from a seeded generator: every run sees the same data."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def blobs(n, d=5, classes=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g, dtype=dtype) * 2
    return toy.make_blobs(n, centres, generator=g, dtype=dtype)


@pytest.mark.parametrize("fn", DISTANCES)
@pytest.mark.parametrize("p", [1, 2])
def test_distances_equal_cdist(fn, p):
    g = torch.Generator().manual_seed(1)
    x1 = torch.randn(7, 3, 4, generator=g, dtype=torch.float64)  # flattened to D = 12
    x2 = torch.randn(11, 12, generator=g, dtype=torch.float64)
    assert_close(fn(x1, x2, p=p), torch.cdist(x1.flatten(1), x2, p=p))


@pytest.mark.parametrize("block", [1, 8 * 7, 8 * 40 * 3, 2**21])
def test_no_loop_l1_blocks_agree_with_cdist(block):
    g = torch.Generator().manual_seed(2)
    x1, x2 = torch.randn(50, 8, generator=g), torch.randn(40, 8, generator=g)
    assert_close(
        knn.distances_no_loops(x1, x2, p=1, block_elements=block),
        torch.cdist(x1, x2, p=1),
    )


def test_l2_of_identical_points_is_zero_not_nan():
    x = rand(5, 784)
    d = knn.distances_no_loops(x, x)
    assert torch.isfinite(d).all() and (d >= 0).all()
    # Eq. (3) cancels ||x||^2 ~ 260 in float32 (eps 1.2e-7): the square is off by ~1e-4,
    # so its root can be ~1e-2 instead of 0. The clamp keeps it real.
    assert (d.diagonal() < 0.05).all()
    assert_close(
        knn.distances_no_loops(x.double(), x.double()).diagonal(),
        torch.zeros(5, dtype=torch.float64),
        atol=1e-5,
        rtol=0,
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 8])
def test_predictions_equal_sklearn(p, k):
    x_train, y_train = blobs(300)
    x_test, _ = blobs(80, seed=1)
    ours = knn.KNearestNeighbor(k, p=p, batch_size=32).fit(x_train, y_train)
    ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute", p=p).fit(
        x_train, y_train
    )
    assert torch.equal(ours.predict(x_test), torch.from_numpy(ref.predict(x_test)))
    dist, idx = ours.kneighbors(x_test)
    ref_dist, ref_idx = ref.kneighbors(x_test)
    assert torch.equal(idx, torch.from_numpy(ref_idx))
    assert_close(dist, torch.from_numpy(ref_dist))


def test_vote_tie_goes_to_smallest_label():
    labels = torch.tensor([[3, 1, 1, 3], [2, 0, 2, 0], [4, 4, 4, 4]])
    assert knn.vote(labels, 5).tolist() == [1, 0, 4]


def test_distance_tie_goes_to_smaller_index():
    # Training points 0..3 are all at distance 1 from the test point; 4 is farther.
    x_train = torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, -1], [3, 3]])
    y_train = torch.tensor([2, 1, 0, 0, 0])
    model = knn.KNearestNeighbor(2).fit(x_train, y_train)
    dist, idx = model.kneighbors(torch.zeros(1, 2))
    assert idx.tolist() == [[0, 1]]
    assert_close(dist, torch.ones(1, 2))
    # Two voters with labels 2 and 1 tie; the smaller label wins.
    assert model.predict(torch.zeros(1, 2)).tolist() == [1]
    # Same answer whatever the batch size and for every k.
    for k in range(1, 6):
        a = (
            knn.KNearestNeighbor(k, batch_size=1)
            .fit(x_train, y_train)
            .kneighbors(torch.zeros(3, 2))
        )
        assert a[1].tolist() == [sorted(range(4))[:k] + [4][: max(0, k - 4)]] * 3


def test_one_nearest_neighbor_memorizes_training_set():
    x, y = blobs(100)
    model = knn.KNearestNeighbor(1).fit(x, y)
    assert model.score(x, y) == 1.0


def test_cross_validate_matches_fold_by_fold_predictions():
    x, y = blobs(100, classes=3, seed=3)
    ks = [1, 3, 5]
    acc = knn.cross_validate(x, y, k_choices=ks, num_folds=4, p=2)
    assert acc.shape == (3, 4)
    xs, ys = torch.chunk(x, 4), torch.chunk(y, 4)
    for f in range(4):
        rest = [i for i in range(4) if i != f]
        model = knn.KNearestNeighbor(1).fit(
            torch.cat([xs[i] for i in rest]), torch.cat([ys[i] for i in rest])
        )
        for j, k in enumerate(ks):
            assert acc[j, f].item() == pytest.approx(model.score(xs[f], ys[f], k=k))


def test_best_k_prefers_smallest_k_on_ties():
    acc = torch.tensor([[0.5, 0.7], [0.6, 0.6], [0.4, 0.4]])
    assert knn.best_k([1, 3, 5], acc) == 1
    assert knn.best_k([5, 3, 1], torch.tensor([[0.5], [0.9], [0.9]])) == 1


def test_bad_input_messages():
    x = rand(4, 3)
    y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(
        TypeError, match="x2 must have a floating dtype, got torch.uint8"
    ):
        knn.distances_no_loops(x, torch.zeros(2, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"x2.flatten\(1\) must have shape \(N, 3\)"):
        knn.distances_one_loop(x, rand(2, 2))
    with pytest.raises(
        ValueError, match="x1 must have at least 2 dimensions, got shape"
    ):
        knn.distances_two_loops(rand(3), x)
    with pytest.raises(ValueError, match="p must be one of \\(1, 2\\), got 3"):
        knn.KNearestNeighbor(1, p=3)
    with pytest.raises(ValueError, match="p must be one of \\(1, 2\\), got nan"):
        knn.distances_no_loops(x, x, p=float("nan"))
    with pytest.raises(ValueError, match="k must be an int >= 1, got 0"):
        knn.KNearestNeighbor(0)
    with pytest.raises(TypeError, match="k must be an int, got bool"):
        knn.KNearestNeighbor(True)
    assert knn.KNearestNeighbor(np.int64(3)).k == 3  # NumPy ints are ints
    with pytest.raises(TypeError, match="y_train must have an integer dtype"):
        knn.KNearestNeighbor(1).fit(x, rand(4))
    with pytest.raises(
        TypeError, match="y_train must have an integer dtype, got torch.bool"
    ):
        knn.KNearestNeighbor(1).fit(x, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(
        ValueError, match="y_train must have shape \\(4,\\), got \\(3,\\)"
    ):
        knn.KNearestNeighbor(1).fit(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="k must be an int in \\[1, 4\\], got 5"):
        knn.KNearestNeighbor(5).fit(x, y).predict(x)
    with pytest.raises(RuntimeError, match="call fit"):
        knn.KNearestNeighbor(1).predict(x)
    with pytest.raises(ValueError, match="one row per k"):
        knn.best_k([1, 2], torch.zeros(3, 5))


def test_fit_rejects_what_would_fail_or_mislead_later():
    x = rand(4, 3)
    with pytest.raises(ValueError, match="y_train must hold labels in >= 0, got -1"):
        knn.KNearestNeighbor(1).fit(x, torch.tensor([0, 1, -1, 2]))
    with pytest.raises(
        ValueError, match="number of training examples must be an int >= 1"
    ):
        knn.KNearestNeighbor(1).fit(rand(0, 3), torch.zeros(0, dtype=torch.long))
    x_nan = x.clone()
    x_nan[2, 1] = float("nan")
    with pytest.raises(
        ValueError, match="x_train must be finite, got 1 NaN or infinite"
    ):
        knn.KNearestNeighbor(1).fit(x_nan, torch.zeros(4, dtype=torch.long))
    # uint8 labels (as IDX files store them) are labels, not a mask
    model = knn.KNearestNeighbor(1).fit(
        x, torch.tensor([3, 1, 0, 2], dtype=torch.uint8)
    )
    assert model.predict(x).tolist() == [3, 1, 0, 2]


def test_score_and_cross_validation_check_their_labels_and_folds():
    x = rand(6, 3)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    model = knn.KNearestNeighbor(1).fit(x, y)
    assert model.score(x, y) == 1.0
    with pytest.raises(ValueError, match="y must have shape \\(6,\\), got \\(6, 1\\)"):
        model.score(x, y[:, None])
    with pytest.raises(
        ValueError, match="num_folds must be an int in \\[2, 6\\], got 7"
    ):
        knn.cross_validate(x, y, k_choices=[1], num_folds=7)
    with pytest.raises(ValueError, match="accuracies must be finite, got 1 NaN"):
        knn.best_k([1, 3], torch.tensor([[0.5, float("nan")], [0.4, 0.4]]))


@pytest.mark.cuda
@pytest.mark.parametrize("p", [1, 2])
def test_cuda_matches_cpu(p):
    x_train, y_train = blobs(500, d=20, dtype=torch.float32)
    x_test, _ = blobs(100, d=20, seed=5, dtype=torch.float32)
    cpu = knn.KNearestNeighbor(5, p=p).fit(x_train, y_train)
    gpu = knn.KNearestNeighbor(5, p=p).fit(x_train.cuda(), y_train.cuda())
    pred = gpu.predict(x_test.cuda())
    assert pred.device.type == "cuda"
    assert torch.equal(pred.cpu(), cpu.predict(x_test))
    for fn in DISTANCES[1:]:
        assert_close(
            fn(x_test.cuda(), x_train.cuda(), p=p).cpu(),
            fn(x_test, x_train, p=p),
            rtol=1e-4,
            atol=1e-4,
        )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("k", [1, 4, 9])
def test_many_exact_ties_match_a_stable_sort(p, k):
    # Integer points on a small grid: many training points share a distance.
    g = torch.Generator().manual_seed(7)
    x_train = torch.randint(0, 3, (200, 3), generator=g).double()
    x_test = torch.randint(0, 3, (40, 3), generator=g).double()
    y_train = torch.randint(0, 5, (200,), generator=g)
    d, idx = (
        knn.KNearestNeighbor(k, p=p, batch_size=16)
        .fit(x_train, y_train)
        .kneighbors(x_test)
    )
    ref_d, ref_idx = torch.cdist(x_test, x_train, p=p).sort(dim=1, stable=True)
    assert torch.equal(idx, ref_idx[:, :k])
    assert_close(d, ref_d[:, :k])
