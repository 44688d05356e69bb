"""Recurrent networks chapter exercises: checkers pass right answers, name wrong."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcv.exercises import rnn as ex
from dlcv.exercises.rnn import bits_reference, lstm_reference, rnn_reference


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- the Elman RNN over a sequence ---------------------------------------------------
def rnn_forward(x, h0, W_xh, W_hh, b):
    h, states = h0, []
    for x_t in x:
        h = torch.tanh(x_t @ W_xh.T + h @ W_hh.T + b)
        states.append(h)
    return torch.stack(states)


def test_rnn_forward_accepts_a_correct_solution(capsys):
    assert ex.check_rnn_forward(rnn_forward)
    assert "✓ rnn_forward: passed all 5 cases" in capsys.readouterr().out


def test_rnn_reference_is_the_recurrence():
    g = torch.Generator().manual_seed(0)
    x, h0 = torch.randn(4, 2, 3, generator=g), torch.randn(2, 5, generator=g)
    W_xh, W_hh = torch.randn(5, 3, generator=g), torch.randn(5, 5, generator=g)
    b = torch.randn(5, generator=g)
    torch.testing.assert_close(
        rnn_reference(x, h0, W_xh, W_hh, b), rnn_forward(x, h0, W_xh, W_hh, b)
    )


@pytest.mark.parametrize(
    "wrong, words",
    [
        # W_hh not transposed
        (
            lambda x, h0, W_xh, W_hh, b: rnn_forward(x, h0, W_xh, W_hh.T, b),
            "case 1",
        ),
        # the states h_0 ... h_{L-1} instead of h_1 ... h_L
        (
            lambda x, h0, W_xh, W_hh, b: torch.cat(
                [h0[None], rnn_forward(x, h0, W_xh, W_hh, b)[:-1]]
            ),
            "case 1",
        ),
        # no tanh
        (
            lambda x, h0, W_xh, W_hh, b: torch.stack(
                [x[0] @ W_xh.T + h0 @ W_hh.T + b] * len(x)
            ),
            "case 1",
        ),
        # detached from the graph: the gradients are missing
        (
            lambda *a: rnn_forward(*(t.detach() for t in a)),
            "backpropagating through your result failed",
        ),
    ],
)
def test_rnn_forward_rejects_wrong_solutions(wrong, words):
    result = ex.check_rnn_forward(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_rnn_forward_stub_is_not_attempted():
    result = ex.check_rnn_forward(stub)
    assert not result and not result.attempted


# ---- one LSTM step -------------------------------------------------------------------
def lstm_step(x, h, c, W, b):
    i, f, o, g = (torch.cat([h, x], dim=1) @ W.T + b).chunk(4, dim=1)
    i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(g)
    c = f * c + i * g
    return o * torch.tanh(c), c


def swap_go(w):
    """Blocks i, f, g, o read as i, f, o, g: torch's order, the lecture's names."""
    i, f, o, g = w.chunk(4)
    return torch.cat([i, f, g, o])


def test_lstm_step_accepts_a_correct_solution(capsys):
    assert ex.check_lstm_step(lstm_step)
    assert "✓ lstm_step: passed all 4 cases" in capsys.readouterr().out


def test_lstm_reference_keeps_the_cell_when_the_gates_say_so():
    H, D = 2, 3
    g = torch.Generator().manual_seed(1)
    x, h, c = (torch.randn(4, n, generator=g, dtype=torch.float64) for n in (D, H, H))
    W = torch.zeros(4 * H, H + D, dtype=torch.float64)
    b = torch.cat([torch.full((H,), v) for v in (-50.0, 50.0, 50.0, 0.0)]).double()
    h1, c1 = lstm_reference(x, h, c, W, b)  # i = 0, f = 1, o = 1
    torch.testing.assert_close(c1, c)
    torch.testing.assert_close(h1, torch.tanh(c))


@pytest.mark.parametrize(
    "wrong, words",
    [
        # torch's gate order i, f, g, o instead of the lecture's i, f, o, g
        (
            lambda x, h, c, W, b: lstm_step(x, h, c, swap_go(W), swap_go(b)),
            "case 1",
        ),
        # [x; h] instead of [h; x]
        (
            lambda x, h, c, W, b: lstm_step(h, x, c, W, b)
            if x.shape == h.shape
            else lstm_step(x, h, c, torch.cat([W[:, -h.shape[1]:],
                                               W[:, :-h.shape[1]]], 1), b),
            "case 1",
        ),
        # h_t = o * c_t, without the tanh
        (
            lambda x, h, c, W, b: (
                lstm_step(x, h, c, W, b)[1]
                * torch.sigmoid((torch.cat([h, x], 1) @ W.T + b).chunk(4, 1)[2]),
                lstm_step(x, h, c, W, b)[1],
            ),
            "case 1",
        ),
    ],
)  # fmt: skip
def test_lstm_step_rejects_wrong_solutions(wrong, words):
    result = ex.check_lstm_step(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_lstm_step_stub_is_not_attempted():
    result = ex.check_lstm_step(stub)
    assert not result and not result.attempted


# ---- bits per character --------------------------------------------------------------
def bits_per_character(logits, targets):
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(-1, targets[..., None]).mean() / math.log(2)


def test_bits_accepts_a_correct_solution(capsys):
    assert ex.check_bits_per_character(bits_per_character)
    assert "✓ bits_per_character: passed all 5 cases" in capsys.readouterr().out


def test_bits_reference_of_uniform_scores_is_log2_v():
    logits = torch.zeros(2, 3, 8, dtype=torch.float64)
    targets = torch.randint(8, (2, 3))
    assert bits_reference(logits, targets).item() == pytest.approx(3.0)


@pytest.mark.parametrize(
    "wrong, words",
    [
        # nats instead of bits
        (
            lambda lg, t: F.cross_entropy(lg.flatten(0, 1), t.flatten()),
            "case 1",
        ),
        # a naive softmax: overflows for large scores
        (
            lambda lg, t: -(
                lg.exp() / lg.exp().sum(-1, keepdim=True)
            ).gather(-1, t[..., None]).log2().mean(),
            "case 5",
        ),
        # summed over positions, not averaged
        (
            lambda lg, t: bits_per_character(lg, t) * t.numel(),
            "case 1",
        ),
    ],
)  # fmt: skip
def test_bits_rejects_wrong_solutions(wrong, words):
    result = ex.check_bits_per_character(wrong)
    assert not result and result.attempted
    assert words in text(result)


def test_bits_stub_is_not_attempted():
    result = ex.check_bits_per_character(stub)
    assert not result and not result.attempted
