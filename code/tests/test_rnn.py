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


# ---- gates ---------------------------------------------------------------------------
def test_lstm_gates_are_the_cells_gates():
    torch.manual_seed(3)
    ref = nn.LSTMCell(D, H, dtype=F64)
    x, h, c = randn(N, D), randn(N, H, seed=1), randn(N, H, seed=2)
    weights = (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    i, f, g, o = rnn.lstm_gates(x, h, *weights)
    pre = (x @ ref.weight_ih.T + ref.bias_ih + h @ ref.weight_hh.T + ref.bias_hh).chunk(
        4, 1
    )
    assert_close(i, torch.sigmoid(pre[0]))
    assert_close(f, torch.sigmoid(pre[1]))
    assert_close(g, torch.tanh(pre[2]))
    assert_close(o, torch.sigmoid(pre[3]))
    h1, c1 = ref(x, (h, c))
    assert_close(c1, f * c + i * g)
    assert_close(h1, o * torch.tanh(c1))


# ---- backpropagation through time ----------------------------------------------------
def test_detach_state_keeps_values_and_cuts_the_graph():
    h = randn(2, 3, requires_grad=True) * 2
    c = randn(2, 3, seed=1, requires_grad=True) * 2
    assert rnn.detach_state(None) is None
    dh = rnn.detach_state(h)
    assert torch.equal(dh, h) and not dh.requires_grad
    dh, dc = rnn.detach_state((h, c))
    assert torch.equal(dc, c) and dh.grad_fn is None and dc.grad_fn is None
    with pytest.raises(TypeError, match="state must be a tensor or a tuple"):
        rnn.detach_state([h, c])


def test_hidden_gradient_norms_follow_the_bptt_recurrence():
    # Eq. (12.3): dL/dh_{t-1} = W_hh^T ((1 - h_t^2) * dL/dh_t) for a tanh RNN
    torch.manual_seed(4)
    net = rnn.RNN(D, H, batch_first=True, dtype=F64)
    x = randn(N, L, D)
    v = randn(N, H, seed=5)
    norms = rnn.hidden_gradient_norms(net, x, lambda h: (h * v).sum())
    assert norms.shape == (L + 1,)
    out, _ = net(x)  # (N, L, H): h_1 ... h_L
    grad = v  # dL/dh_L
    expected = [grad.norm()]
    for t in range(L - 1, -1, -1):
        grad = ((1 - out[:, t] ** 2) * grad) @ net.weight_hh_l0  # dL/dh_{t}
        expected.append(grad.norm())
    assert_close(norms, torch.stack(expected[::-1]).detach())


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_hidden_gradient_norms_at_h0_equal_torchs_autograd(kind):
    theirs, ours = twins(kind, num_layers=2)
    x = randn(L, N, D)
    hx = initial_state(kind, 2)
    h0 = (hx[0] if kind == "LSTM" else hx).clone().requires_grad_()
    state = (h0, hx[1]) if kind == "LSTM" else h0
    _, h_n = theirs(x, state)
    last = h_n[0] if kind == "LSTM" else h_n
    (g,) = torch.autograd.grad(last[-1].pow(2).sum(), h0)
    norms = rnn.hidden_gradient_norms(ours, x, lambda h: h.pow(2).sum(), hx)
    assert_close(norms[0], g[-1].norm())  # the top layer's h_0
    assert_close(norms[-1], 2 * last[-1].detach().norm())  # dL/dh_L = 2 h_L


def test_hidden_gradient_norms_vanish_for_small_recurrent_weights():
    net = rnn.RNN(D, H, dtype=F64)
    with torch.no_grad():
        net.weight_hh_l0.copy_(0.1 * torch.eye(H, dtype=F64))
    norms = rnn.hidden_gradient_norms(net, randn(20, 1, D), lambda h: h.sum())
    assert norms[0] < 1e-15 * norms[-1]


class _Stepper(nn.Module):
    """A tiny char model built on torch's own nn.LSTM, for the TBPTT tests."""

    def __init__(self, vocab=5, hidden=4):
        super().__init__()
        torch.manual_seed(6)
        self.embed = nn.Embedding(vocab, 3, dtype=F64)
        self.lstm = nn.LSTM(3, hidden, batch_first=True, dtype=F64)
        self.head = nn.Linear(hidden, vocab, dtype=F64)

    def forward(self, tokens, state=None):
        out, state = self.lstm(self.embed(tokens), state)
        return self.head(out), state


def _tbptt_reference(model, inputs, targets, chunk, lr):
    """Truncated BPTT written out: detach at each chunk's start, SGD step."""
    state, losses = None, []
    for a in range(0, inputs.shape[1], chunk):
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(inputs[:, a : a + chunk], state)
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets[:, a : a + chunk].flatten()
        )
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("chunk", [1, 3, 4, 11, 50])
def test_truncated_bptt_equals_the_loop_written_out(chunk):
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(5, (3, 12), generator=g)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]  # 11 steps
    ours, ref = _Stepper(), _Stepper()
    result = rnn.truncated_bptt(
        ours, inputs, targets, chunk, torch.optim.SGD(ours.parameters(), lr=0.5)
    )
    losses = _tbptt_reference(ref, inputs, targets, chunk, 0.5)
    assert len(result.losses) == len(result.grad_norms) == -(-11 // chunk)
    assert result.losses == pytest.approx(losses, rel=1e-12)
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        assert_close(p, q)
    assert all(s.grad_fn is None for s in result.state)


def test_truncated_bptt_truncates_the_gradient():
    # lr = 0: no update, so the chunk's gradient is a pure function of the truncation
    tokens = torch.randint(5, (2, 9), generator=torch.Generator().manual_seed(8))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    model = _Stepper()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    rnn.truncated_bptt(model, inputs, targets, 4, opt)
    truncated = [p.grad.clone() for p in model.parameters()]  # the second chunk's
    # the same loss with the state not detached: gradients reach the first chunk
    model.zero_grad()
    _, state = model(inputs[:, :4])
    logits, _ = model(inputs[:, 4:], state)
    F.cross_entropy(logits.flatten(0, 1), targets[:, 4:].flatten()).backward()
    full = [p.grad for p in model.parameters()]
    model.zero_grad()
    _, state = model(inputs[:, :4])
    logits, _ = model(inputs[:, 4:], tuple(s.detach() for s in state))
    F.cross_entropy(logits.flatten(0, 1), targets[:, 4:].flatten()).backward()
    for t, p in zip(truncated, model.parameters(), strict=True):
        assert_close(t, p.grad)
    assert not torch.allclose(full[0], truncated[0])  # the embedding's gradient


def test_truncated_bptt_clips_like_torch():
    tokens = torch.randint(5, (2, 7), generator=torch.Generator().manual_seed(9))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    model = _Stepper()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    result = rnn.truncated_bptt(model, inputs, targets, 6, opt, max_norm=1e-3)
    total = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert result.grad_norms[0] > 1e-3
    assert total.item() == pytest.approx(1e-3, rel=1e-5)  # Eq. (12.4), clipped


def test_truncated_bptt_rejects_bad_arguments():
    model = _Stepper()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.zeros(2, 6, dtype=torch.long)
    with pytest.raises(TypeError, match="chunk must be an int"):
        rnn.truncated_bptt(model, x, x, 2.0, opt)
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 6\)"):
        rnn.truncated_bptt(model, x, x[:, :5], 2, opt)
    with pytest.raises(ValueError, match="max_norm must be a finite number"):
        rnn.truncated_bptt(model, x, x, 2, opt, max_norm=float("nan"))
    with pytest.raises(ValueError, match="inputs must have shape"):
        rnn.truncated_bptt(model, x[0], x, 2, opt)


# ---- sampling ------------------------------------------------------------------------
def test_sample_at_temperature_zero_is_argmax():
    logits = randn(50, 7, seed=10)
    assert torch.equal(rnn.sample(logits, 0.0), logits.argmax(-1))
    # a tiny temperature draws the argmax too (the softmax is one-hot)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(rnn.sample(logits, 1e-4, generator=g), logits.argmax(-1))


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0])
def test_sample_frequencies_match_the_tempered_softmax(T):
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    n = 40_000
    g = torch.Generator().manual_seed(11)
    draws = rnn.sample(logits.expand(n, 4), T, generator=g)
    assert draws.shape == (n,) and draws.dtype == torch.int64
    freq = torch.bincount(draws, minlength=4).double() / n
    p = F.softmax(logits.double() / T, dim=0)  # Eq. (12.10)
    se = (p * (1 - p) / n).sqrt()
    assert bool(((freq - p).abs() < 5 * se).all()), (freq, p)


def test_sample_is_reproducible_and_validates():
    logits = randn(3, 5, 6, seed=12)
    a = rnn.sample(logits, 1.0, generator=torch.Generator().manual_seed(1))
    b = rnn.sample(logits, 1.0, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 5) and torch.equal(a, b)
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        rnn.sample(logits, -1.0)
    with pytest.raises(TypeError, match="logits must have a floating dtype"):
        rnn.sample(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match="logits must not hold NaN"):
        rnn.sample(torch.tensor([0.0, float("nan")]))


# ---- models --------------------------------------------------------------------------
def test_char_lstm_equals_the_same_model_on_torchs_lstm():
    torch.manual_seed(13)
    ours = rnn.CharLSTM(11, 6, embed_dim=4, num_layers=2).double()
    theirs = nn.LSTM(4, 6, 2, batch_first=True, dtype=F64)
    theirs.load_state_dict(ours.lstm.state_dict())
    tokens = torch.randint(11, (3, 8))
    logits, (h, c) = ours(tokens)
    out, (h_ref, c_ref) = theirs(ours.embed(tokens))
    assert logits.shape == (3, 8, 11)
    assert_close(logits, ours.head(out))
    assert_close((h, c), (h_ref, c_ref))
    # carrying the state across chunks equals one pass
    a, state = ours(tokens[:, :5])
    b, _ = ours(tokens[:, 5:], state)
    assert_close(torch.cat([a, b], 1), logits)


def test_char_lstm_generate_greedy_is_argmax_continuation():
    torch.manual_seed(14)
    model = rnn.CharLSTM(7, 5)
    prompt = torch.tensor([1, 2, 3])
    out = model.generate(prompt, 6, temperature=0.0)
    assert out.shape == (6,) and out.dtype == torch.int64
    seq = prompt
    for k in range(6):  # feed the whole text each time: the same next character
        nxt = model(seq[None])[0][0, -1].argmax()
        assert nxt == out[k]
        seq = torch.cat([seq, nxt[None]])
    with pytest.raises(ValueError, match=r"tokens must hold ids in \[0, 7\)"):
        model(torch.tensor([[0, 7]]))
    with pytest.raises(TypeError, match="prompt must have dtype torch.int64"):
        model.generate(torch.tensor([1.0]), 3)
    with pytest.raises(ValueError, match="prompt must have 1 dimensions"):
        model.generate(torch.tensor([[1]]), 3)


def test_caption_inputs_shift_and_replace_padding():
    tokens = torch.tensor([[3, 4, 10, -100], [1, 2, 5, 10]])
    assert rnn.caption_inputs(tokens).tolist() == [[11, 3, 4, 10], [11, 1, 2, 5]]
    assert rnn.caption_inputs(tokens, start=0, end=1).tolist()[0] == [0, 3, 4, 10]
    with pytest.raises(TypeError, match="tokens must have dtype torch.int64"):
        rnn.caption_inputs(tokens.float())


def test_caption_lstm_decoder_equals_torchs_lstm_and_greedy_is_consistent():
    torch.manual_seed(15)
    model = rnn.CaptionLSTM(12, (28, 56), hidden_size=8, embed_dim=5, channels=2)
    model = model.double()
    images = randn(3, 1, 28, 56, seed=16)
    tokens = torch.tensor([[1, 2, 10], [3, 10, -100], [4, 5, 10]])
    inputs = rnn.caption_inputs(tokens)
    logits = model(images, inputs)
    assert logits.shape == (3, 3, 12)
    theirs = nn.LSTM(5, 8, batch_first=True, dtype=F64)
    theirs.load_state_dict(model.lstm.state_dict())
    out, _ = theirs(model.embed(inputs), model.initial_state(images))
    assert_close(logits, model.head(out))
    # greedy: teacher forcing on its own words gives back the same words
    words = model.greedy(images, 5)
    assert words.shape == (3, 5) and words.dtype == torch.int64
    again = model(images, rnn.caption_inputs(words)).argmax(-1)
    for row, re in zip(words, again, strict=True):
        stop = (row == 10).nonzero()
        n = int(stop[0]) + 1 if len(stop) else 5
        assert torch.equal(row[:n], re[:n])  # up to and including END
        assert bool((row[n:] == 10).all())  # END after END


def test_caption_lstm_validates():
    with pytest.raises(ValueError, match="image width must be a multiple of 4"):
        rnn.CaptionLSTM(12, (28, 30))
    with pytest.raises(ValueError, match=r"start must be an int in \[0, 11\]"):
        rnn.CaptionLSTM(12, (28, 28), start=12)
    model = rnn.CaptionLSTM(12, (28, 28))
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 28, 28\)"):
        model(torch.zeros(2, 1, 28, 56), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"inputs must hold ids in \[0, 12\)"):
        model(torch.zeros(2, 1, 28, 28), torch.full((2, 3), -100))


@pytest.mark.cuda
def test_cuda_models_and_sampling_stay_on_the_device():
    model = rnn.CharLSTM(7, 5).cuda()
    out = model.generate(torch.tensor([1, 2], device="cuda"), 4)
    assert out.device.type == "cuda"
    logits = torch.randn(3, 7, device="cuda")
    assert rnn.sample(logits, 1.0).device.type == "cuda"
    cap = rnn.CaptionLSTM(12, (28, 28)).cuda()
    assert cap.greedy(torch.zeros(2, 1, 28, 28, device="cuda"), 3).device.type == "cuda"
    norms = rnn.hidden_gradient_norms(
        rnn.LSTM(3, 4).cuda(), torch.randn(5, 2, 3, device="cuda"), lambda h: h.sum()
    )
    assert norms.device.type == "cuda"
