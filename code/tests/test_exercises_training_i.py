"""Training I exercises: each checker passes a right answer, names wrong ones."""

import math

import torch

from dlcv import exercises, init, preprocess


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- inverted dropout ----------------------------------------------------------------
def inverted_dropout(x, p, training, generator):
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep / (1 - p)


def test_inverted_dropout_accepts_a_correct_solution(capsys):
    assert exercises.check_inverted_dropout(inverted_dropout)
    assert "✓ inverted_dropout: passed all 5 cases" in capsys.readouterr().out


def test_inverted_dropout_rejects_the_classic_form():
    def classic(x, p, training, generator):
        if not training:
            return x * (1 - p)
        return x * (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p)

    result = exercises.check_inverted_dropout(classic)
    assert not result and "case 1 of 5" in text(result)


def test_inverted_dropout_rejects_keep_probability_confusion():
    def swapped(x, p, training, generator):  # p used as the keep probability
        return inverted_dropout(x, 1 - p, training, generator) if p < 1 else x

    result = exercises.check_inverted_dropout(swapped)
    assert not result and "case 3 of 5" in text(result)


def test_inverted_dropout_rejects_missing_scale():
    def unscaled(x, p, training, generator):
        out = inverted_dropout(x, p, training, generator)
        return out * (1 - p) if training else out

    result = exercises.check_inverted_dropout(unscaled)
    assert not result and "case 2 of 5" in text(result)


def test_inverted_dropout_stub_is_not_attempted():
    result = exercises.check_inverted_dropout(stub)
    assert not result and not result.attempted


# ---- Kaiming normal ------------------------------------------------------------------
def test_kaiming_normal_accepts_dlcv_and_torch(capsys):
    def ours(fan_out, fan_in, generator):
        return init.kaiming_normal_(
            torch.empty(fan_out, fan_in), nonlinearity="relu", generator=generator
        )

    assert exercises.check_kaiming_normal(ours)
    assert "✓ kaiming_normal: passed all 3 cases" in capsys.readouterr().out

    def by_hand(fan_out, fan_in, generator):
        return torch.randn(fan_out, fan_in, generator=generator) * math.sqrt(2 / fan_in)

    assert exercises.check_kaiming_normal(by_hand)


def test_kaiming_normal_rejects_xavier_and_transposed():
    def xavier(fan_out, fan_in, generator):
        return torch.randn(fan_out, fan_in, generator=generator) / math.sqrt(fan_in)

    result = exercises.check_kaiming_normal(xavier)
    assert not result and "should be" in text(result)

    def transposed(fan_out, fan_in, generator):
        return torch.randn(fan_in, fan_out, generator=generator) * math.sqrt(2 / fan_in)

    assert not exercises.check_kaiming_normal(transposed)

    def fan_out_std(fan_out, fan_in, generator):
        return torch.randn(fan_out, fan_in, generator=generator) * math.sqrt(
            2 / fan_out
        )

    assert not exercises.check_kaiming_normal(fan_out_std)


# ---- PCA whitening -------------------------------------------------------------------
def test_pca_whitening_accepts_dlcv_and_svd(capsys):
    def ours(X, k):
        return preprocess.PCA(k, whiten=True).fit_transform(X)

    assert exercises.check_pca_whitening(ours)
    assert "✓ pca_whitening: passed all 4 cases" in capsys.readouterr().out

    def by_svd(X, k):
        Xc = X - X.mean(dim=0)
        _, S, Vt = torch.linalg.svd(Xc, full_matrices=False)
        return -(Xc @ Vt[:k].T) / (S[:k] / math.sqrt(X.shape[0] - 1))

    assert exercises.check_pca_whitening(by_svd)


def test_pca_whitening_rejects_common_mistakes():
    def not_whitened(X, k):
        return preprocess.PCA(k).fit_transform(X)

    assert not exercises.check_pca_whitening(not_whitened)

    def not_centered(X, k):
        _, S, Vt = torch.linalg.svd(X, full_matrices=False)
        return X @ Vt[:k].T / (S[:k] / math.sqrt(X.shape[0] - 1))

    result = exercises.check_pca_whitening(not_centered)
    assert not result

    def biased(X, k):  # divides by the ddof=0 standard deviation
        return preprocess.PCA(k, whiten=True).fit_transform(X) * math.sqrt(
            (X.shape[0] - 1) / X.shape[0]
        )

    assert not exercises.check_pca_whitening(biased)
    assert not exercises.check_pca_whitening(stub).attempted
