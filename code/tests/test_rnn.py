import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import rnn

F64 = torch.float64
D, H, L, N = 3, 4, 5, 2  # input features, hidden features, time steps, batch


def randn(*shape, seed=0, dtype=F64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=dtype)
    return t.requires_grad_(requires_grad)


def twins(kind, seed=0, **kwargs):
    """(torch's network, ours) in float64, ours loaded with torch's weights."""
    torch.manual_seed(seed)
    theirs = getattr(nn, kind)(D, H, dtype=F64, **kwargs)
    ours = getattr(rnn, kind)(D, H, dtype=F64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def initial_state(kind, num_layers, batch=(N,), seed=10):
    h0 = randn(num_layers, *batch, H, seed=seed)
    return (h0, randn(num_layers, *batch, H, seed=seed + 1)) if kind == "LSTM" else h0


CONFIGS = [
    dict(kind="RNN"),
    dict(kind="RNN", nonlinearity="relu", num_layers=2),
    dict(kind="RNN", bias=False, batch_first=True),
    dict(kind="LSTM"),
    dict(kind="LSTM", num_layers=3, batch_first=True),
    dict(kind="LSTM", num_layers=2, bias=False),
    dict(kind="GRU"),
    dict(kind="GRU", num_layers=2, batch_first=True),
    dict(kind="GRU", bias=False),
]


@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: "-".join(map(str, c.values()))
)
def test_forward_and_gradients_equal_torch(config, with_hx):
    kwargs = dict(config)
    kind = kwargs.pop("kind")
    theirs, ours = twins(kind, **kwargs)
    num_layers = kwargs.get("num_layers", 1)
    shape = (N, L, D) if kwargs.get("batch_first") else (L, N, D)
    x, x_ref = randn(*shape, requires_grad=True), randn(*shape, requires_grad=True)
    hx = initial_state(kind, num_layers) if with_hx else None
    out, h_n = ours(x, hx)
    ref, ref_h_n = theirs(x_ref, hx)
    assert out.shape == ref.shape
    assert_close(out, ref)
    assert_close(h_n, ref_h_n)  # a (h_n, c_n) pair for the LSTM
    dout = randn(*out.shape, seed=3)
    (out * dout).sum().backward()
    (ref * dout).sum().backward()
    assert_close(x.grad, x_ref.grad)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, q.grad, msg=name)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_carrying_the_state_across_chunks_equals_one_pass(kind):
    # truncated backprop through time runs chunks and carries h_n (and c_n) along
    _, ours = twins(kind, num_layers=2)
    assert isinstance(ours, getattr(nn, kind))
    x = randn(L, N, D)
    out, h_n = ours(x)
    out1, h1 = ours(x[:2])
    out2, h2 = ours(x[2:], h1)
    assert_close(torch.cat([out1, out2]), out)
    assert_close(h2, h_n)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dict_loads_both_ways(kind):
    torch.manual_seed(1)
    ours, theirs = getattr(rnn, kind)(D, H, 2), getattr(nn, kind)(D, H, 2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:4] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
    ]
    theirs.load_state_dict(ours.state_dict())  # torch from ours
    x = randn(L, N, D, dtype=torch.float32)
    assert_close(ours(x)[0], theirs(x)[0], rtol=1e-5, atol=1e-6)
    ours2 = getattr(rnn, kind)(D, H, 2)
    ours2.load_state_dict(theirs.state_dict())  # ours from torch
    assert_close(ours2(x)[0], theirs(x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_equals_torch(kind):
    theirs, ours = twins(kind, num_layers=2)
    x, hx = randn(L, D), initial_state(kind, 2, batch=())
    out, h_n = ours(x, hx)
    ref, ref_h_n = theirs(x, hx)
    assert out.shape == (L, H)
    assert_close(out, ref)
    assert_close(h_n, ref_h_n)


def test_dropout_between_layers_follows_training_mode():
    theirs, ours = twins("GRU", num_layers=2, dropout=0.5)
    x = randn(L, N, D)
    ours.eval(), theirs.eval()
    assert_close(ours(x)[0], theirs(x)[0])  # eval: no dropout
    ours.train()
    torch.manual_seed(0)
    a = ours(x)[0]
    torch.manual_seed(1)
    assert not torch.equal(a, ours(x)[0])  # train: a fresh mask each call


# ---- cells ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cell, twin",
    [
        (rnn.rnn_cell, nn.RNNCell),
        (rnn.lstm_cell, nn.LSTMCell),
        (rnn.gru_cell, nn.GRUCell),
    ],
    ids=["rnn", "lstm", "gru"],
)
def test_cells_equal_torch_cells(cell, twin):
    torch.manual_seed(2)
    ref = twin(D, H, dtype=F64)
    x, h, c = randn(N, D), randn(N, H, seed=1), randn(N, H, seed=2)
    weights = (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    lstm = twin is nn.LSTMCell
    state = (h, c) if lstm else h  # batched, (N, H) each
    state0 = (h[0], c[0]) if lstm else h[0]  # unbatched, (H,) each
    assert_close(cell(x, state, *weights), ref(x, state))
    assert_close(cell(x[0], state0, *weights), ref(x[0], state0))


def test_rnn_cell_is_tanh_of_the_two_products():
    x, h = randn(N, D), randn(N, H, seed=1)
    W_ih, W_hh, b = randn(H, D, seed=2), randn(H, H, seed=3), randn(H, seed=4)
    # h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), with the bias in b_ih or b_hh
    expected = torch.tanh(x @ W_ih.T + h @ W_hh.T + b)
    assert_close(rnn.rnn_cell(x, h, W_ih, W_hh, b), expected)
    assert_close(
        rnn.rnn_cell(x, h, W_ih, W_hh, None, b, nonlinearity="relu"),
        torch.relu(x @ W_ih.T + h @ W_hh.T + b),
    )


def lstm_bias(i=0.0, f=0.0, g=0.0, o=0.0):
    """A (4 H,) bias in torch's row order i, f, g, o."""
    return torch.cat([torch.full((H,), v, dtype=F64) for v in (i, f, g, o)])


def test_lstm_gates_sit_in_torchs_row_order_i_f_g_o():
    x, h, c = randn(N, D), randn(N, H, seed=1), randn(N, H, seed=2)
    zeros_ih, zeros_hh = (
        torch.zeros(4 * H, D, dtype=F64),
        torch.zeros(4 * H, H, dtype=F64),
    )
    # f = 1 and i = 0: the cell is kept, c_t = c_{t-1}; o = 1: h_t = tanh(c_t)
    keep = lstm_bias(i=-50, f=50, o=50)
    h1, c1 = rnn.lstm_cell(x, (h, c), zeros_ih, zeros_hh, keep)
    assert_close(c1, c)
    assert_close(h1, torch.tanh(c))
    # f = 0, i = 1, g = tanh(2): the cell is overwritten; o = 0 hides it, h_t = 0
    write = lstm_bias(i=50, f=-50, g=2.0, o=-50)
    h2, c2 = rnn.lstm_cell(x, (h, c), zeros_ih, zeros_hh, write)
    assert_close(c2, torch.full_like(c, torch.tanh(torch.tensor(2.0)).item()))
    assert_close(h2, torch.zeros_like(h), atol=1e-12, rtol=0)


def test_gru_update_gate_one_keeps_the_old_state():
    x, h = randn(N, D), randn(N, H, seed=1)
    W_ih, W_hh = randn(3 * H, D, seed=2), randn(3 * H, H, seed=3)
    b = torch.zeros(3 * H, dtype=F64)
    b[H : 2 * H] = 50.0  # z = 1: h_t = h_{t-1}
    assert_close(rnn.gru_cell(x, h, W_ih, W_hh, b), h)
    b[H : 2 * H] = -50.0  # z = 0: h_t = n = tanh(W_in x + r * W_hn h)
    x_n, h_n = (x @ W_ih[2 * H :].T), (h @ W_hh[2 * H :].T)
    r = torch.sigmoid(x @ W_ih[:H].T + h @ W_hh[:H].T)
    assert_close(rnn.gru_cell(x, h, W_ih, W_hh, b), torch.tanh(x_n + r * h_n))


@pytest.mark.parametrize(
    "cell, gates", [(rnn.rnn_cell, 1), (rnn.lstm_cell, 4), (rnn.gru_cell, 3)]
)
def test_cells_pass_gradcheck(cell, gates):
    x, h = randn(2, 3, requires_grad=True), randn(2, 2, seed=1, requires_grad=True)
    w_ih = randn(gates * 2, 3, seed=2, requires_grad=True)
    w_hh = randn(gates * 2, 2, seed=3, requires_grad=True)
    b = randn(gates * 2, seed=4, requires_grad=True)
    if cell is rnn.lstm_cell:
        c = randn(2, 2, seed=5, requires_grad=True)
        assert gradcheck(
            lambda x, h, c, *w: cell(x, (h, c), *w), (x, h, c, w_ih, w_hh, b)
        )
    else:
        assert gradcheck(cell, (x, h, w_ih, w_hh, b))


# ---- highway -------------------------------------------------------------------------
def test_highway_is_its_equation():
    layer = rnn.Highway(4, dtype=F64)
    x = randn(3, 4)
    H_x = F.relu(x @ layer.transform.weight.T + layer.transform.bias)
    T_x = torch.sigmoid(x @ layer.gate.weight.T + layer.gate.bias)
    assert_close(layer(x), T_x * H_x + (1 - T_x) * x)
    assert_close(layer.gate.bias, torch.full((4,), -1.0, dtype=F64))  # carry at first
    with torch.no_grad():
        layer.gate.bias.fill_(-50.0)  # T = 0: the input is carried through
    assert_close(layer(x), x)
    with torch.no_grad():
        layer.gate.bias.fill_(50.0)  # T = 1: a plain layer, H(x)
    assert_close(layer(x), F.relu(layer.transform(x)))


def test_highway_passes_gradcheck():
    x = randn(3, 4, requires_grad=True)
    w_h, w_t = (
        randn(4, 4, seed=1, requires_grad=True),
        randn(4, 4, seed=2, requires_grad=True),
    )
    b_h, b_t = (
        randn(4, seed=3, requires_grad=True),
        randn(4, seed=4, requires_grad=True),
    )
    assert gradcheck(
        lambda *a: rnn.highway(*a, activation=torch.tanh), (x, w_h, b_h, w_t, b_t)
    )
    layer = rnn.Highway(4, torch.tanh, dtype=F64)
    assert gradcheck(layer, (x,))


# ---- validation ----------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn.RNN(D, H, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="hidden_size must be an int, got float"):
        rnn.LSTM(D, 4.0)
    with pytest.raises(TypeError, match="batch_first must be a bool, got int"):
        rnn.GRU(D, H, batch_first=1)
    with pytest.raises(ValueError, match=r"dropout must be a finite number in \[0.0"):
        rnn.GRU(D, H, dropout=1.5)
    with pytest.raises(TypeError, match="gate_bias must be a real number"):
        rnn.Highway(4, gate_bias="-1")


def test_bad_inputs_raise_clear_errors():
    lstm = rnn.LSTM(D, H, 2)
    with pytest.raises(ValueError, match=r"input must have shape \(\.\.\., 3\), got"):
        lstm(torch.randn(L, N, D + 1))
    with pytest.raises(TypeError, match="input must have a floating dtype"):
        lstm(torch.ones(L, N, D, dtype=torch.long))
    with pytest.raises(ValueError, match="input must have shape"):
        lstm(torch.randn(1, L, N, D))
    with pytest.raises(ValueError, match=r"hx must have 2 tensors \(h_0, c_0\), got 1"):
        lstm(torch.randn(L, N, D), (torch.zeros(2, N, H),))
    with pytest.raises(ValueError, match=r"c_0 must have shape \(2, 2, 4\), got"):
        lstm(torch.randn(L, N, D), (torch.zeros(2, N, H), torch.zeros(1, N, H)))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(1, 2, 4\)"):
        rnn.RNN(D, H)(torch.randn(L, N, D), torch.zeros(N, H))
    with pytest.raises(ValueError, match=r"weight_hh must have shape \(12, 4\)"):
        rnn.gru_cell(
            torch.randn(N, D), torch.randn(N, H), torch.randn(12, D), torch.randn(4, H)
        )
    with pytest.raises(ValueError, match="tensors must share dtype and device"):
        rnn.rnn_cell(
            torch.randn(N, D),
            torch.randn(N, H, dtype=F64),
            torch.randn(H, D),
            torch.randn(H, H),
        )


# ---- CUDA ----------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cuda_matches_torch(kind):
    theirs, ours = twins(kind, num_layers=2, batch_first=True)
    theirs, ours = theirs.cuda(), ours.cuda()
    x = randn(N, L, D).cuda()
    out, h_n = ours(x)
    ref, ref_h_n = theirs(x)
    assert out.device.type == "cuda"
    assert_close(out, ref)
    assert_close(h_n, ref_h_n)
