"""Generative models I exercises: checkers pass right answers and name wrong ones."""

import pytest
import torch

from dlcv.exercises.generative_i import (
    check_causal_mask,
    check_kl_to_prior,
    torch_kl_to_prior,
)


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- masks ---------------------------------------------------------------------------
def causal_mask(kernel_size, mask_type):
    k, c = kernel_size, kernel_size // 2
    mask = torch.zeros(k, k)
    mask[:c] = 1
    mask[c, : c + (mask_type == "B")] = 1
    return mask


def test_causal_mask_accepts_a_correct_solution(capsys):
    assert check_causal_mask(causal_mask)
    assert "✓ causal_mask: passed all 8 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        # type A and B swapped
        (lambda k, t: causal_mask(k, "B" if t == "A" else "A"), "case 1"),
        # the centre row left out entirely
        (
            lambda k, t: torch.cat([torch.ones(k // 2, k), torch.zeros(k - k // 2, k)]),
            "case 1",
        ),
        # a mask of booleans
        (lambda k, t: causal_mask(k, t).bool(), "dtype"),
        # the future kept: the transpose of the mask
        (lambda k, t: causal_mask(k, t).T.contiguous(), "case 1"),
    ],
)
def test_causal_mask_names_wrong_solutions(wrong, words, capsys):
    result = check_causal_mask(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_causal_mask_stub_is_not_attempted(capsys):
    result = check_causal_mask(stub)
    assert not result and not result.attempted
    assert "not attempted yet" in capsys.readouterr().out


# ---- KL to the prior -----------------------------------------------------------------
def kl_to_prior(mu, logvar):
    return 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(-1)


def test_kl_reference_is_zero_at_the_prior_and_the_closed_form():
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    assert torch.equal(torch_kl_to_prior(mu, logvar), torch.zeros(2))
    mu, logvar = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5).double()
    torch.testing.assert_close(torch_kl_to_prior(mu, logvar), kl_to_prior(mu, logvar))


def test_kl_to_prior_accepts_a_correct_solution(capsys):
    assert check_kl_to_prior(kl_to_prior)
    assert "✓ kl_to_prior: passed all 5 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        # logvar taken as the standard deviation
        (
            lambda mu, lv: 0.5 * (lv**2 + mu**2 - 1 - 2 * lv.abs().log()).sum(-1),
            "case 1",
        ),
        # no factor 1/2
        (lambda mu, lv: (lv.exp() + mu**2 - 1 - lv).sum(-1), "case 1"),
        # the mean instead of the sum over the latent dimensions
        (lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 - lv).mean(-1), "case 1"),
        # the sign of the ERRATA's form lost: +log sigma^2
        (lambda mu, lv: 0.5 * (lv.exp() + mu**2 - 1 + lv).sum(-1), "case 1"),
        # summed over the batch too
        (lambda mu, lv: kl_to_prior(mu, lv).sum(), "case 1"),
    ],
)
def test_kl_to_prior_names_wrong_solutions(wrong, words, capsys):
    result = check_kl_to_prior(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_kl_to_prior_stub_is_not_attempted(capsys):
    result = check_kl_to_prior(stub)
    assert not result and not result.attempted
    assert "not attempted yet" in capsys.readouterr().out
