"""Generative models II exercises: checkers pass right answers and name wrong ones."""

import pytest
import torch
import torch.nn.functional as F

from dlcv.exercises import generative_ii
from dlcv.exercises.generative_ii import torch_gan_losses


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- GAN losses ----------------------------------------------------------------------
def gan_losses(real_logits, fake_logits):
    d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    return d, F.softplus(-fake_logits).mean()


def test_gan_losses_accepts_a_correct_solution(capsys):
    assert generative_ii.check_gan_losses(gan_losses)
    assert "✓ gan_losses: passed all 5 cases" in capsys.readouterr().out


def test_gan_losses_reference_is_the_min_max_objective():
    real, fake = torch.tensor([0.3, -1.0]), torch.tensor([2.0])
    d, g = torch_gan_losses(real, fake)
    s = torch.sigmoid
    assert d.item() == pytest.approx(
        -(torch.log(s(real)).mean() + torch.log(1 - s(fake)).mean()).item(), rel=1e-6
    )
    assert g.item() == pytest.approx(-torch.log(s(fake)).mean().item(), rel=1e-6)


@pytest.mark.parametrize(
    "wrong, words",
    [
        # through probabilities: infinite where sigmoid rounds to 0 or 1
        (
            lambda r, f: (
                -(
                    torch.log(torch.sigmoid(r)).mean()
                    + torch.log(1 - torch.sigmoid(f)).mean()
                ),
                -torch.log(torch.sigmoid(f)).mean(),
            ),
            "case 3",
        ),
        # the saturating generator loss
        (lambda r, f: (gan_losses(r, f)[0], -F.softplus(f).mean()), "case 1"),
        # one mean over real and fake together
        (
            lambda r, f: (
                torch.cat([F.softplus(-r), F.softplus(f)]).mean(),
                gan_losses(r, f)[1],
            ),
            "case 1",
        ),
    ],
)
def test_gan_losses_names_wrong_solutions(wrong, words):
    result = generative_ii.check_gan_losses(wrong)
    assert not result
    assert words in text(result)


def test_gan_losses_stub_is_not_attempted(capsys):
    result = generative_ii.check_gan_losses(stub)
    assert not result.attempted
    assert "not attempted" in capsys.readouterr().out


# ---- q_sample ------------------------------------------------------------------------
def q_sample(x0, t, noise, alpha_bars):
    ab = alpha_bars[t].reshape(-1, *[1] * (x0.dim() - 1)).to(x0.dtype)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def test_q_sample_accepts_a_correct_solution(capsys):
    assert generative_ii.check_q_sample(q_sample)
    assert "✓ q_sample: passed all 4 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        # alpha_bar instead of its square root
        (
            lambda x0, t, n, ab: (
                ab[t].reshape(-1, *[1] * (x0.dim() - 1)) * x0
                + (1 - ab[t]).reshape(-1, *[1] * (x0.dim() - 1)) * n
            ),
            "case 1",
        ),
        # one step for the whole batch
        (lambda x0, t, n, ab: q_sample(x0, t[:1].expand_as(t), n, ab), "case 1"),
        # no noise at all
        (
            lambda x0, t, n, ab: ab[t].reshape(-1, *[1] * (x0.dim() - 1)).sqrt() * x0,
            "case 1",
        ),
    ],
)
def test_q_sample_names_wrong_solutions(wrong, words):
    result = generative_ii.check_q_sample(wrong)
    assert not result
    assert words in text(result)


def test_q_sample_stub_is_not_attempted():
    assert not generative_ii.check_q_sample(stub).attempted


# ---- classifier score ----------------------------------------------------------------
def classifier_score(probs):
    p_y = probs.mean(0, keepdim=True)
    kl = (torch.xlogy(probs, probs) - torch.xlogy(probs, p_y)).sum(1)
    return kl.mean().exp()


def test_classifier_score_accepts_a_correct_solution(capsys):
    assert generative_ii.check_classifier_score(classifier_score)
    assert "✓ classifier_score: passed all 5 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        # the mean of exp(KL) instead of exp of the mean
        (
            lambda p: (
                (torch.xlogy(p, p) - torch.xlogy(p, p.mean(0, keepdim=True)))
                .sum(1)
                .exp()
                .mean()
            ),
            "case 1",
        ),
        # log 0 without the 0 log 0 = 0 convention: NaN on exact zeros
        (
            lambda p: (
                (p * (p.log() - p.mean(0, keepdim=True).log())).sum(1).mean().exp()
            ),
            "case 3",
        ),
        # KL(p(y) || p(y|x)) reversed
        (
            lambda p: (
                (
                    torch.xlogy(p.mean(0, keepdim=True), p.mean(0, keepdim=True))
                    - p.mean(0, keepdim=True) * p.log()
                )
                .sum(1)
                .mean()
                .exp()
            ),
            "case 1",
        ),
    ],
)
def test_classifier_score_names_wrong_solutions(wrong, words):
    result = generative_ii.check_classifier_score(wrong)
    assert not result
    assert words in text(result)


def test_classifier_score_stub_is_not_attempted():
    assert not generative_ii.check_classifier_score(stub).attempted
