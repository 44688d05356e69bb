"""Tensors chapter exercises: each checker passes a right answer, names wrong ones."""

import pytest
import torch
import torch.nn.functional as F

from dlcv import exercises

# --- standardize_rows -----------------------------------------------------------------


def standardize_rows(x, eps=1e-5):
    mean = x.mean(dim=1, keepdim=True)  # (N, 1)
    var = ((x - mean) ** 2).mean(dim=1, keepdim=True)  # (N, 1), divided by D
    return (x - mean) / torch.sqrt(var + eps)


def test_standardize_rows_accepts_a_two_pass_solution(capsys):
    assert exercises.check_standardize_rows(standardize_rows)
    assert "✓ standardize_rows: passed all 6 cases" in capsys.readouterr().out


def test_standardize_rows_reference_is_the_formula_in_float64():
    x = torch.randn(7, 11, dtype=torch.float64) * 4 + 2
    torch.testing.assert_close(F.layer_norm(x, (11,), eps=1e-5), standardize_rows(x))


def _no_keepdim(x, eps=1e-5):  # (N, D) - (N,): broadcasts along the wrong axis
    mean = x.mean(dim=1)
    var = ((x - mean) ** 2).mean(dim=1)
    return (x - mean) / torch.sqrt(var + eps)


def _in_place(x, eps=1e-5):
    x -= x.mean(dim=1, keepdim=True)
    x /= torch.sqrt((x**2).mean(dim=1, keepdim=True) + eps)
    return x


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # statistics of the columns instead of the rows
        (
            lambda x: (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-5),
            "case 1 of 6 failed",
        ),
        # keepdim forgotten: an error for N != D, silently wrong for the square case
        (_no_keepdim, "raised RuntimeError"),
        # the unbiased (N - 1) standard deviation, and no eps
        (
            lambda x: (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True),
            "should be",
        ),
        # no eps: a constant row gives 0 / 0 = nan
        (
            lambda x: (
                (x - x.mean(1, keepdim=True))
                / x.var(1, keepdim=True, correction=0).sqrt()
            ),
            "case 5 of 6 failed (row 1 is constant (variance 0))",
        ),
        # the variance as mean of squares minus squared mean: cancels digits at mean 100
        (
            lambda x: (
                (x - x.mean(1, keepdim=True))
                / torch.sqrt(
                    (x**2).mean(1, keepdim=True) - x.mean(1, keepdim=True) ** 2 + 1e-5
                )
            ),
            "case 6 of 6 failed (rows with mean 100 and std 1)",
        ),
        (_in_place, "modified its input x in place"),
    ],
)
def test_standardize_rows_names_typical_mistakes(wrong, problem):
    result = exercises.check_standardize_rows(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: x = tensor of shape" in result.message


def test_standardize_rows_square_case_catches_a_silent_keepdim_mistake():
    def no_keepdim_square_ok(x, eps=1e-5):  # right for N != D; the square case is not
        if x.shape[0] != x.shape[1]:
            return standardize_rows(x, eps)
        return _no_keepdim(x, eps)

    result = exercises.check_standardize_rows(no_keepdim_square_ok)
    assert "case 2 of 6 failed (square, N=D=5)" in result.message
    assert "should be" in result.message


# --- one_hot --------------------------------------------------------------------------


def one_hot(labels, num_classes):
    return (labels[..., None] == torch.arange(num_classes)).long()


def test_one_hot_accepts_a_broadcast_comparison(capsys):
    assert exercises.check_one_hot(one_hot)
    assert "✓ one_hot: passed all 6 cases" in capsys.readouterr().out


def test_one_hot_reference_agrees_with_an_explicit_loop():
    labels = torch.tensor([[2, 0], [1, 1]])
    expected = torch.zeros(2, 2, 3, dtype=torch.int64)
    for i in range(2):
        for j in range(2):
            expected[i, j, labels[i, j]] = 1
    assert torch.equal(F.one_hot(labels, 3), expected)


def _rows_only(labels, num_classes):  # the (arange, labels) idiom: 1-D labels only
    out = torch.zeros(len(labels), num_classes, dtype=torch.int64)
    out[torch.arange(len(labels)), labels] = 1
    return out


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        # a float result
        (
            lambda y, c: (y[..., None] == torch.arange(c)).float(),
            "should have dtype torch.int64, got torch.float32",
        ),
        # a bool result
        (
            lambda y, c: y[..., None] == torch.arange(c),
            "should have dtype torch.int64, got torch.bool",
        ),
        # the number of classes guessed from the labels
        (
            lambda y, c: one_hot(y, int(y.max()) + 1),
            "case 2 of 6 failed (labels 0..2 but num_classes=6",
        ),
        # the classes along the first axis instead of the last
        (lambda y, c: one_hot(y, c).T, "should have shape (8, 5), got (5, 8)"),
        # works for a vector of labels, not for a 2-D map
        (_rows_only, "case 6 of 6 failed (a (2, 3) map of labels)"),
    ],
)
def test_one_hot_names_typical_mistakes(wrong, problem):
    result = exercises.check_one_hot(wrong)
    assert not result and result.attempted
    assert problem in result.message
    assert "inputs: labels = tensor of shape" in result.message


# --- batch_outer ----------------------------------------------------------------------


def batch_outer(u, v):
    return u[:, :, None] * v[:, None, :]  # (B, M, 1) * (B, 1, P) -> (B, M, P)


def test_batch_outer_accepts_a_broadcast_product(capsys):
    assert exercises.check_batch_outer(batch_outer)
    assert "✓ batch_outer: passed all 5 cases" in capsys.readouterr().out


def test_batch_outer_reference_agrees_with_einsum():
    u, v = (
        torch.randn(3, 4, dtype=torch.float64),
        torch.randn(3, 5, dtype=torch.float64),
    )
    torch.testing.assert_close(
        torch.bmm(u.unsqueeze(2), v.unsqueeze(1)), torch.einsum("bi,bj->bij", u, v)
    )


def test_batch_outer_names_typical_mistakes():
    # the axes swapped: (B, P, M), a wrong shape when M != P
    result = exercises.check_batch_outer(lambda u, v: u[:, None, :] * v[:, :, None])
    assert "should have shape (3, 4, 5), got (3, 5, 4)" in result.message

    # swapped only where the shapes allow it: the square case catches the transpose
    def transposed_if_square(u, v):
        out = batch_outer(u, v)
        return out.transpose(1, 2) if u.shape[1] == v.shape[1] else out

    result = exercises.check_batch_outer(transposed_if_square)
    assert "case 2 of 5 failed (square, B=2, M=P=3)" in result.message
    assert "should be" in result.message

    # the outer product of all pairs of batch rows too: (B, M, B, P)
    result = exercises.check_batch_outer(lambda u, v: u[:, :, None, None] * v)
    assert "should have shape (3, 4, 5), got (3, 4, 3, 5)" in result.message

    # a float32 result for float64 inputs
    result = exercises.check_batch_outer(lambda u, v: batch_outer(u.float(), v.float()))
    assert "case 5 of 5 failed" in result.message
    assert "should have dtype torch.float64" in result.message
    assert "inputs: u = tensor of shape (4, 2), float64" in result.message


# --- the worked answers of the conceptual exercises -----------------------------------


def _shares(a, b):
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def test_exercise_1_broadcast_shapes():
    def shape(a, b):
        return tuple((torch.zeros(a) + torch.zeros(b)).shape)

    assert shape((3, 1, 5), (4, 1)) == (3, 4, 5)
    assert shape((8, 1, 6, 1), (7, 1, 5)) == (8, 7, 6, 5)
    assert shape((5,), (5, 1)) == (5, 5)
    for a, b in [((2, 3), (3, 2)), ((4, 3), (4,))]:
        with pytest.raises(RuntimeError):
            shape(a, b)
    x = torch.arange(9.0).view(3, 3)
    wrong = x - x.mean(dim=1)  # no error, but row j's mean leaves column j
    torch.testing.assert_close(wrong[:, 0], x[:, 0] - x[0].mean())
    assert not torch.allclose(wrong, x - x.mean(dim=1, keepdim=True))


def test_exercise_2_views_and_copies():
    x = torch.arange(12).view(3, 4)
    assert _shares(x[1:3].view(-1), x)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x[:, 1:3].view(-1)
    assert not _shares(x[:, 1:3].reshape(-1), x)
    y = x.t().view(2, 2, 3)
    assert _shares(y, x) and y.stride() == (2, 1, 4) and not x.t().is_contiguous()
    assert _shares(x[::2], x) and x[::2].stride() == (8, 1)
    assert not _shares(x[[0, 2]], x)

    a = torch.arange(5)
    b = a[1:3]
    b += 10
    assert a.tolist() == [0, 11, 12, 3, 4]
    a = torch.arange(5)
    c = a[[1, 2]]
    c += 10
    assert a.tolist() == [0, 1, 2, 3, 4]
    a = torch.arange(5)
    a[[1, 2]] += 10
    assert a.tolist() == [0, 11, 12, 3, 4]


def test_exercise_3_dtypes():
    ints = torch.tensor([1, 2, 3])
    half = ints / 2
    assert half.dtype == torch.float32 and half.tolist() == [0.5, 1.0, 1.5]
    assert (ints // 2).dtype == torch.int64
    assert (torch.ones(3) + torch.ones(3, dtype=torch.float64)).dtype == torch.float64
    scalar64 = torch.tensor(1.0, dtype=torch.float64)
    assert (torch.ones(3) + scalar64).dtype == torch.float32
    assert (ints + scalar64).dtype == torch.float64
    brighter = torch.tensor([200, 100], dtype=torch.uint8) + 100
    assert brighter.dtype == torch.uint8 and brighter.tolist() == [44, 200]
    with pytest.raises(RuntimeError):
        ints.mean()
