import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck
from torch.testing import assert_close

from dlcv import attention as att

F64 = torch.float64


def randn(*shape, seed=0, dtype=F64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(*shape, generator=g, dtype=dtype)
    return t.requires_grad_(requires_grad)


def bool_mask(*shape, seed=0, p=0.3):
    """A random bool mask with at least one False and one True per row."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(*shape, generator=g) < p
    mask[..., 0] = False
    mask[..., -1] = True
    return mask


# ---- scaled dot-product attention ----------------------------------------------------
def sdpa_inputs(batch=(2, 3), L=4, S=5, E=6, Ev=7, seed=0):
    q = randn(*batch, L, E, seed=seed, requires_grad=True)
    k = randn(*batch, S, E, seed=seed + 1, requires_grad=True)
    v = randn(*batch, S, Ev, seed=seed + 2, requires_grad=True)
    return q, k, v


MASKS = {
    "none": lambda L, S: None,
    "bool": lambda L, S: bool_mask(L, S, p=0.5),
    "bool_batched": lambda L, S: bool_mask(2, 3, L, S, seed=1, p=0.5),
    "float": lambda L, S: randn(L, S, seed=3),
    "float_broadcast": lambda L, S: randn(2, 1, L, S, seed=4),
}


# torch takes attn_mask or is_causal, not both
@pytest.mark.parametrize(
    ("mask", "is_causal"), [*((m, False) for m in MASKS), ("none", True)]
)
@pytest.mark.parametrize("scale", [None, 0.3])
@pytest.mark.parametrize("LS", [(4, 5), (5, 3), (4, 4)])
def test_sdpa_equals_torch_with_gradients(mask, is_causal, scale, LS):
    L, S = LS
    q, k, v = sdpa_inputs(L=L, S=S)
    m = MASKS[mask](L, S)
    ours = att.scaled_dot_product_attention(
        q, k, v, attn_mask=m, is_causal=is_causal, scale=scale
    )
    theirs = F.scaled_dot_product_attention(
        q, k, v, attn_mask=m, is_causal=is_causal, scale=scale
    )
    assert ours.shape == (2, 3, L, 7)
    assert_close(ours, theirs)
    dout = randn(*ours.shape, seed=9)
    grads = torch.autograd.grad((ours * dout).sum(), (q, k, v))
    expected = torch.autograd.grad((theirs * dout).sum(), (q, k, v))
    assert_close(grads, expected)


def test_sdpa_written_out_and_unbatched():
    q, k, v = (t.detach() for t in sdpa_inputs(batch=()))
    A = torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)
    out = att.scaled_dot_product_attention(q, k, v)
    assert_close(out, A @ v)
    assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_sdpa_fully_masked_row_gives_zeros_like_torch():
    q, k, v = sdpa_inputs(batch=(2,), L=3, S=4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False  # query 1 may attend to nothing
    out = att.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


def test_sdpa_gradcheck():
    q, k, v = sdpa_inputs(batch=(2,), L=3, S=4, E=3, Ev=2)
    mask = bool_mask(3, 4, seed=5)
    fn = att.scaled_dot_product_attention
    assert gradcheck(lambda q, k, v: fn(q, k, v, attn_mask=mask), (q, k, v))
    assert gradcheck(lambda q, k, v: fn(q, k, v, is_causal=True), (q, k, v))


def test_attention_weights_rows_sum_to_one_and_causal_zeros():
    q, k, _ = (t.detach() for t in sdpa_inputs(L=5, S=5))
    A = att.attention_weights(q, k, is_causal=True)
    assert_close(A.sum(-1), torch.ones(2, 3, 5, dtype=F64))
    upper = torch.ones(5, 5, dtype=torch.bool).triu(1)
    assert torch.equal(A[..., upper], torch.zeros_like(A[..., upper]))
    assert torch.equal(att.causal_mask(3, 4), torch.ones(3, 4).tril().bool())


def test_sdpa_dropout_one_zeroes_and_zero_is_identity():
    q, k, v = (t.detach() for t in sdpa_inputs())
    out = att.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert torch.equal(out, torch.zeros_like(out))
    torch.manual_seed(0)
    out = att.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    # each kept weight is scaled by 1 / (1 - p); the output stays finite and changes
    assert torch.isfinite(out).all()
    assert not torch.allclose(out, att.scaled_dot_product_attention(q, k, v))


def test_self_attention_is_permutation_equivariant():
    x = randn(6, 4, seed=2)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    y = att.scaled_dot_product_attention(x, x, x)
    assert_close(att.scaled_dot_product_attention(x[perm], x[perm], x[perm]), y[perm])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"query": [[1.0]]}, TypeError, "query must be a torch.Tensor"),
        ({"query": torch.ones(2, 3, dtype=torch.long)}, TypeError, "floating"),
        ({"key": torch.ones(5, 4, dtype=F64)}, ValueError, r"key must have shape"),
        ({"value": torch.ones(3, 2, dtype=F64)}, ValueError, r"value must have shape"),
        ({"attn_mask": torch.ones(2, 5, dtype=torch.int64)}, TypeError, "bool or"),
        ({"attn_mask": torch.ones(2, 5).bool(), "is_causal": True}, ValueError, "not"),
        ({"dropout_p": 1.5}, ValueError, r"dropout_p must be a finite number in"),
        ({"dropout_p": float("nan")}, ValueError, "dropout_p"),
        ({"is_causal": 1}, TypeError, "is_causal must be a bool"),
        ({"scale": "big"}, TypeError, "scale must be a real number"),
    ],
)
def test_sdpa_rejects_bad_input(kwargs, error, match):
    args = {
        "query": torch.ones(2, 3, dtype=F64),
        "key": torch.ones(5, 3, dtype=F64),
        "value": torch.ones(5, 2, dtype=F64),
    }
    with pytest.raises(error, match=match):
        att.scaled_dot_product_attention(**{**args, **kwargs})


# ---- multi-head attention ------------------------------------------------------------
def mha_pair(E=8, H=2, seed=0, **kwargs):
    """(ours, torch's) in float64 and eval mode, ours loaded from torch's."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, H, dtype=F64, **kwargs).eval()
    ours = att.MultiheadAttention(E, H, dtype=F64, **kwargs).eval()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def mha_inputs(N=2, L=4, S=5, E=8, kdim=None, vdim=None, batch_first=False, seed=0):
    def seq(n, d, s):
        shape = (N, n, d) if batch_first else (n, N, d)
        return randn(*shape, seed=seed + s, requires_grad=True)

    return seq(L, E, 0), seq(S, kdim or E, 1), seq(S, vdim or E, 2)


def mha_masks(case, N=2, H=2, L=4, S=5):
    """(attn_mask, key_padding_mask) in nn.MultiheadAttention's convention."""
    return {
        "none": (None, None),
        "bool_attn": (bool_mask(L, S, seed=1).logical_not(), None),
        "float_attn_3d": (randn(N * H, L, S, seed=2), None),
        "bool_padding": (None, bool_mask(N, S, seed=3).logical_not()),
        "float_padding": (None, randn(N, S, seed=4)),
        "both_bool": (  # the last key stays open to every query
            bool_mask(L, S, seed=5).logical_not(),
            bool_mask(N, S, seed=6).logical_not(),
        ),
        "both_float": (randn(L, S, seed=5), randn(N, S, seed=6)),
    }[case]


MHA_CASES = ["none", "bool_attn", "float_attn_3d", "bool_padding", "float_padding"]


@pytest.mark.parametrize("masks", [*MHA_CASES, "both_bool", "both_float"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("average", [True, False], ids=["avg", "per_head"])
def test_mha_equals_torch_with_weights_and_gradients(masks, batch_first, average):
    ours, theirs = mha_pair(batch_first=batch_first)
    q, k, v = mha_inputs(batch_first=batch_first)
    attn_mask, pad = mha_masks(masks)
    kw = {"key_padding_mask": pad, "attn_mask": attn_mask}
    y, w = ours(q, k, v, average_attn_weights=average, **kw)
    y_t, w_t = theirs(q, k, v, average_attn_weights=average, **kw)
    assert y.shape == q.shape
    assert w.shape == ((2, 4, 5) if average else (2, 2, 4, 5))
    assert_close(y, y_t)
    assert_close(w, w_t)
    dout = randn(*y.shape, seed=7)
    params = [q, k, v, *ours.parameters()]
    grads = torch.autograd.grad((y * dout).sum(), params)
    expected = torch.autograd.grad((y_t * dout).sum(), [q, k, v, *theirs.parameters()])
    assert_close(grads, expected)


@pytest.mark.parametrize(
    "kwargs",
    [{"bias": False}, {"kdim": 3, "vdim": 5}, {"kdim": 3, "vdim": 5, "bias": False}],
    ids=["no_bias", "kdim_vdim", "kdim_vdim_no_bias"],
)
def test_mha_variants_equal_torch(kwargs):
    ours, theirs = mha_pair(E=6, H=3, batch_first=True, **kwargs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    q, k, v = mha_inputs(E=6, kdim=kwargs.get("kdim"), vdim=kwargs.get("vdim"))
    q, k, v = (t.transpose(0, 1) for t in (q, k, v))
    pad = bool_mask(2, 5, seed=8).logical_not()
    y, w = ours(q, k, v, key_padding_mask=pad)
    y_t, w_t = theirs(q, k, v, key_padding_mask=pad)
    assert_close(y, y_t)
    assert_close(w, w_t)


def test_mha_causal_unbatched_and_no_weights():
    ours, theirs = mha_pair()
    x = randn(4, 2, 8, seed=1)
    causal = ~att.causal_mask(4)  # True = may not attend, as torch's MHA wants
    y, w = ours(x, x, x, need_weights=False, is_causal=True)
    y_t, _ = theirs(x, x, x, need_weights=False, attn_mask=causal, is_causal=True)
    assert w is None
    assert_close(y, y_t)
    y2, w2 = ours(x, x, x, attn_mask=causal)
    assert_close(y2, y_t)
    assert torch.equal(w2[:, causal], torch.zeros_like(w2[:, causal]))
    x1 = x[:, 0]  # unbatched (L, E)
    y1, w1 = ours(x1, x1, x1, average_attn_weights=False)
    y1_t, w1_t = theirs(x1, x1, x1, average_attn_weights=False)
    assert y1.shape == (4, 8) and w1.shape == (2, 4, 4)
    assert_close(y1, y1_t)
    assert_close(w1, w1_t)


def test_mha_state_dict_loads_both_ways():
    ours, _ = mha_pair(seed=3)
    fresh = nn.MultiheadAttention(8, 2, dtype=F64).eval()
    fresh.load_state_dict(ours.state_dict())
    x = randn(3, 2, 8, seed=4)
    assert_close(fresh(x, x, x)[0], ours(x, x, x)[0])
    assert isinstance(ours, nn.MultiheadAttention)


def test_mha_is_multihead_sdpa_written_out():
    """Head h is SDPA on the h-th slice of each projection; W_O mixes the heads."""
    ours, _ = mha_pair(E=6, H=3, batch_first=True)
    x = randn(2, 4, 6, seed=5)
    W_q, W_k, W_v = ours.in_proj_weight.chunk(3)
    b_q, b_k, b_v = ours.in_proj_bias.chunk(3)
    heads = []
    for h in range(3):
        s = slice(2 * h, 2 * h + 2)
        Q, K, V = x @ W_q[s].T + b_q[s], x @ W_k[s].T + b_k[s], x @ W_v[s].T + b_v[s]
        heads.append(att.scaled_dot_product_attention(Q, K, V))
    expected = ours.out_proj(torch.cat(heads, dim=-1))
    assert_close(ours(x, x, x)[0], expected)


def test_mha_rejects_bad_input():
    with pytest.raises(ValueError, match="num_heads must divide embed_dim"):
        att.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="add_bias_kv"):
        att.MultiheadAttention(6, 2, add_bias_kv=True)
    with pytest.raises(TypeError, match="num_heads must be an int"):
        att.MultiheadAttention(6, 2.0)
    ours, _ = mha_pair()
    x = randn(4, 2, 8)
    with pytest.raises(ValueError, match=r"query must have shape \(\.\.\., 8\)"):
        ours(x[..., :6], x, x)
    with pytest.raises(ValueError, match="key and value must share"):
        ours(x, x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match="key and value must share"):
        ours(x, x, x[:3])
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(4, 4\)"):
        ours(x, x, x, attn_mask=torch.zeros(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 4\)"):
        ours(x, x, x, key_padding_mask=torch.zeros(4, 2, dtype=torch.bool))


def test_mha_gradcheck():
    ours, _ = mha_pair(E=4, H=2, batch_first=True)
    q, k, v = (
        t.detach().requires_grad_()
        for t in mha_inputs(N=1, L=2, S=3, E=4, batch_first=True)
    )
    pad = torch.tensor([[False, False, True]])
    assert gradcheck(lambda q, k, v: ours(q, k, v, key_padding_mask=pad)[0], (q, k, v))


# ---- positional encodings ------------------------------------------------------------
@pytest.mark.parametrize("d", [6, 7], ids=["even", "odd"])
def test_sinusoidal_encoding_equation(d):
    L = 7
    pe = att.sinusoidal_positional_encoding(L, d, dtype=F64)
    assert pe.shape == (L, d) and pe.dtype == F64
    for p in range(L):
        for j in range(d):  # column j = 2i (sine) or 2i + 1 (cosine)
            angle = p / 10000 ** (2 * (j // 2) / d)
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert pe[p, j].item() == pytest.approx(want, abs=1e-12)


def test_sinusoidal_encoding_shifts_are_rotations():
    """PE_{p+k} = R(k omega_i) PE_p in every (sin, cos) pair of columns."""
    d, k = 8, 3
    pe = att.sinusoidal_positional_encoding(20, d, dtype=F64)
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=F64) / d)
    c, s = torch.cos(k * omega), torch.sin(k * omega)
    sin_p, cos_p = pe[:-k, 0::2], pe[:-k, 1::2]
    assert_close(pe[k:, 0::2], sin_p * c + cos_p * s)  # sin(a + b)
    assert_close(pe[k:, 1::2], cos_p * c - sin_p * s)  # cos(a + b)
    with pytest.raises(ValueError, match="length must be an int >= 1"):
        att.sinusoidal_positional_encoding(0, 4)
    with pytest.raises(TypeError, match="d_model must be an int"):
        att.sinusoidal_positional_encoding(3, 4.0)


@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
def test_learned_positional_encoding_adds_rows(batch_first):
    g = torch.Generator().manual_seed(0)
    layer = att.LearnedPositionalEncoding(
        10, 4, batch_first=batch_first, generator=g, dtype=F64
    )
    assert layer.weight.shape == (10, 4)
    x = randn(*((2, 3, 4) if batch_first else (3, 2, 4)), seed=1)
    out = layer(x)
    for p in range(3):
        got = out[:, p] if batch_first else out[p]
        want = x[:, p] if batch_first else x[p]
        assert_close(got, want + layer.weight[p])
    x_u = x[0] if batch_first else x[:, 0]  # one unbatched (3, 4) sequence
    assert_close(layer(x_u), x_u + layer.weight[:3])
    out.sum().backward()
    assert_close(layer.weight.grad[:3], torch.full((3, 4), 2.0, dtype=F64))
    assert torch.equal(layer.weight.grad[3:], torch.zeros(7, 4, dtype=F64))
    with pytest.raises(ValueError, match="sequence length must be <= 10, got 11"):
        layer(randn(11, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        layer(randn(3, 5))


# ---- transformer layers --------------------------------------------------------------
LAYER_KW = {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0}


def layer_pair(kind, seed=0, **kwargs):
    torch.manual_seed(seed)
    kw = {**LAYER_KW, "dtype": F64, **kwargs}
    twin = {
        "encoder": nn.TransformerEncoderLayer,
        "decoder": nn.TransformerDecoderLayer,
    }
    mine = {
        "encoder": att.TransformerEncoderLayer,
        "decoder": att.TransformerDecoderLayer,
    }
    theirs = twin[kind](**kw).eval()
    ours = mine[kind](**kw).eval()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def seq(n, batch_first, seed, N=2, requires_grad=True):
    shape = (N, n, 8) if batch_first else (n, N, 8)
    return randn(*shape, seed=seed, requires_grad=requires_grad)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
@pytest.mark.parametrize("activation", ["relu", "gelu", torch.tanh])
def test_encoder_layer_equals_torch(norm_first, batch_first, activation):
    ours, theirs = layer_pair(
        "encoder", norm_first=norm_first, batch_first=batch_first, activation=activation
    )
    x = seq(5, batch_first, seed=1)
    mask = ~att.causal_mask(5)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    kw = {"src_mask": mask, "src_key_padding_mask": pad}
    y, y_t = ours(x, **kw), theirs(x, **kw)
    assert_close(y, y_t)
    assert_close(ours(x), theirs(x))
    dout = randn(*y.shape, seed=2)
    grads = torch.autograd.grad((y * dout).sum(), [x, *ours.parameters()])
    expected = torch.autograd.grad((y_t * dout).sum(), [x, *theirs.parameters()])
    assert_close(grads, expected)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
def test_decoder_layer_equals_torch(norm_first, batch_first):
    ours, theirs = layer_pair(
        "decoder", norm_first=norm_first, batch_first=batch_first, activation="gelu"
    )
    tgt, memory = seq(4, batch_first, seed=1), seq(6, batch_first, seed=2)
    kw = {
        "tgt_mask": ~att.causal_mask(4),
        "memory_mask": bool_mask(4, 6, seed=3).logical_not(),
        "tgt_key_padding_mask": torch.tensor([[False] * 4, [False] * 3 + [True]]),
        "memory_key_padding_mask": torch.tensor(
            [[False] * 6, [True] * 2 + [False] * 4]
        ),
        "tgt_is_causal": True,
    }
    y, y_t = ours(tgt, memory, **kw), theirs(tgt, memory, **kw)
    assert_close(y, y_t)
    assert_close(ours(tgt, memory), theirs(tgt, memory))
    dout = randn(*y.shape, seed=4)
    grads = torch.autograd.grad((y * dout).sum(), [tgt, memory, *ours.parameters()])
    expected = torch.autograd.grad(
        (y_t * dout).sum(), [tgt, memory, *theirs.parameters()]
    )
    assert_close(grads, expected)


def test_layers_unbatched_no_bias_and_causal_flag():
    ours, theirs = layer_pair("encoder", bias=False, norm_first=True)
    x = randn(5, 8, seed=1)
    assert_close(ours(x), theirs(x))
    causal = ~att.causal_mask(5)
    assert_close(ours(x, is_causal=True), theirs(x, src_mask=causal, is_causal=True))
    ours, theirs = layer_pair("decoder", bias=False)
    t, m = randn(3, 8, seed=2), randn(4, 8, seed=3)
    assert_close(ours(t, m), theirs(t, m))


def test_layer_dropout_acts_only_in_training():
    ours, _ = layer_pair("encoder", dropout=0.5)
    x = seq(5, False, seed=1, requires_grad=False)
    evaluated = ours(x)
    assert_close(ours(x), evaluated)  # eval mode: no dropout, deterministic
    torch.manual_seed(0)
    trained = ours.train()(x)
    assert not torch.allclose(trained, evaluated)


def test_mha_training_dropout_draws_like_torch():
    """With need_weights=True torch drops the (N H, L, S) weights as we do."""
    ours, theirs = mha_pair(dropout=0.5)
    ours.train(), theirs.train()
    q, k, v = mha_inputs()
    torch.manual_seed(1)
    y, w = ours(q, k, v, average_attn_weights=False)
    torch.manual_seed(1)
    y_t, w_t = theirs(q, k, v, average_attn_weights=False)
    assert_close(y, y_t)
    assert_close(w, w_t)
    assert (w == 0).any()  # some weights were dropped


def test_layers_reject_bad_arguments():
    with pytest.raises(ValueError, match="activation must be one of"):
        att.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(TypeError, match="activation must be callable"):
        att.TransformerDecoderLayer(8, 2, activation=3)
    with pytest.raises(TypeError, match="norm_first must be a bool"):
        att.TransformerEncoderLayer(8, 2, norm_first="yes")
    with pytest.raises(ValueError, match="num_heads must divide embed_dim"):
        att.TransformerDecoderLayer(8, 3)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    ours, _ = layer_pair("decoder", norm_first=True)
    gpu = att.TransformerDecoderLayer(**LAYER_KW, dtype=F64, norm_first=True).eval()
    gpu.load_state_dict(ours.state_dict())
    gpu = gpu.cuda()
    tgt, memory = seq(4, False, seed=1), seq(6, False, seed=2)
    out = ours(tgt, memory, tgt_is_causal=True)
    out_gpu = gpu(tgt.cuda(), memory.cuda(), tgt_is_causal=True)
    assert out_gpu.device.type == "cuda"
    assert_close(out_gpu.cpu(), out)
    q, k, v = (t.detach().cuda() for t in sdpa_inputs())
    out = att.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))


# ---- the vision transformer ----------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "published"),
    [
        ((224, 16, 12, 12, 768, 3072), 86_567_656),  # ViT-B/16
        ((224, 32, 12, 12, 768, 3072), 88_224_232),  # ViT-B/32
        ((224, 16, 24, 16, 1024, 4096), 304_326_632),  # ViT-L/16
    ],
)
def test_vit_parameter_counts_are_torchvisions(config, published):
    with torch.device("meta"):
        vit = att.VisionTransformer(*config)
    assert sum(p.numel() for p in vit.parameters()) == published


def test_vit_has_torchvisions_parameter_names():
    vit = att.VisionTransformer(8, 4, 2, 2, 8, 16, num_classes=3)
    names = list(vit.state_dict())
    block = "encoder.layers.encoder_layer_1."
    expected = [
        "class_token",
        "conv_proj.weight",
        "conv_proj.bias",
        "encoder.pos_embedding",
        *(
            block + n
            for n in (
                "ln_1.weight",
                "ln_1.bias",
                "self_attention.in_proj_weight",
                "self_attention.in_proj_bias",
                "self_attention.out_proj.weight",
                "self_attention.out_proj.bias",
                "ln_2.weight",
                "ln_2.bias",
                "mlp.0.weight",
                "mlp.0.bias",
                "mlp.3.weight",
                "mlp.3.bias",
            )
        ),
        "encoder.ln.weight",
        "encoder.ln.bias",
        "heads.head.weight",
        "heads.head.bias",
    ]
    assert set(expected) <= set(names)
    assert len(names) == 4 + 2 * 12 + 4
    assert vit.encoder.pos_embedding.shape == (1, 5, 8)
    assert vit.encoder.ln.eps == 1e-6
    assert bool((vit.heads.head.weight == 0).all())  # torchvision's zero head
    with_pre = att.VisionTransformer(8, 4, 1, 2, 8, 16, representation_size=6)
    assert [n for n, _ in with_pre.heads.named_children()] == [
        "pre_logits",
        "act",
        "head",
    ]


def copied_torch_block(block, D, H, M):
    """nn.TransformerEncoderLayer(norm_first, gelu) holding ``block``'s weights."""
    theirs = nn.TransformerEncoderLayer(
        D,
        H,
        M,
        dropout=0.0,
        activation="gelu",
        layer_norm_eps=1e-6,
        batch_first=True,
        norm_first=True,
        dtype=F64,
    )
    names = {"ln_1": "norm1", "self_attention": "self_attn", "ln_2": "norm2"}
    names |= {"mlp.0": "linear1", "mlp.3": "linear2"}
    state = {}
    for key, value in block.state_dict().items():
        for old, new in names.items():
            if key.startswith(old + "."):
                key = new + key[len(old) :]
        state[key] = value
    theirs.load_state_dict(state)
    return theirs.eval()


def test_vit_block_equals_torch_pre_norm_gelu_layer_with_gradients():
    D, H, M = 12, 3, 20
    block = att.EncoderBlock(H, D, M, 0.0, 0.0).to(F64).eval()
    with torch.no_grad():  # nonzero biases and layer-norm affines
        for p in block.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=F64))
    theirs = copied_torch_block(block, D, H, M)
    x = randn(2, 5, D, seed=3, requires_grad=True)
    x_t = x.detach().clone().requires_grad_(True)
    ours, ref = block(x), theirs(x_t)
    assert_close(ours, ref)
    ours.square().sum().backward()
    ref.square().sum().backward()
    assert_close(x.grad, x_t.grad)
    assert gradcheck(block, (randn(1, 3, D, seed=4, requires_grad=True),))


def test_vit_forward_is_patches_class_token_positions_blocks_head():
    vit = att.VisionTransformer(8, 4, 2, 2, 8, 16, num_classes=3, in_channels=2)
    vit = vit.to(F64).eval()
    with torch.no_grad():
        for p in vit.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=F64))
    x = randn(3, 2, 8, 8, seed=5)
    # by hand: unfolded patches times the flattened kernel are conv_proj
    patches = F.unfold(x, 4, stride=4).transpose(1, 2)  # (3, 4, 2 * 16)
    tokens = patches @ vit.conv_proj.weight.flatten(1).T + vit.conv_proj.bias
    z = torch.cat([vit.class_token.expand(3, -1, -1), tokens], dim=1)
    z = z + vit.encoder.pos_embedding
    for block in vit.encoder.layers:
        z = copied_torch_block(block, 8, 2, 16)(z)
    z = vit.encoder.ln(z)
    assert_close(vit(x), vit.heads.head(z[:, 0]))


def test_vit_attention_maps_are_each_blocks_per_head_weights():
    vit = att.VisionTransformer(8, 2, 3, 2, 8, 16, num_classes=3, in_channels=1)
    vit = vit.to(F64).eval()
    x = randn(2, 1, 8, 8, seed=6)
    maps = vit.attention_maps(x)
    assert len(maps) == 3
    assert all(m.shape == (2, 2, 17, 17) for m in maps)
    assert_close(maps[0].sum(-1), torch.ones(2, 2, 17, dtype=F64))
    z = vit.tokens(x) + vit.encoder.pos_embedding
    first = vit.encoder.layers[0]
    y = first.ln_1(z)
    ref = nn.MultiheadAttention(8, 2, batch_first=True, dtype=F64)
    ref.load_state_dict(first.self_attention.state_dict())
    assert_close(maps[0], ref(y, y, y, average_attn_weights=False)[1])


def test_vit_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="patch_size must divide image_size"):
        att.VisionTransformer(10, 4, 1, 2, 8, 16)
    with pytest.raises(ValueError, match="num_heads must divide embed_dim"):
        att.VisionTransformer(8, 4, 1, 3, 8, 16)
    with pytest.raises(TypeError, match="hidden_dim"):
        att.VisionTransformer(8, 4, 1, 2, 8.0, 16)
    vit = att.VisionTransformer(8, 4, 1, 2, 8, 16, in_channels=1)
    with pytest.raises(ValueError, match="x"):
        vit(torch.zeros(2, 1, 12, 12))
    with pytest.raises(ValueError, match="x"):
        vit(torch.zeros(2, 3, 8, 8))
    with pytest.raises(TypeError, match="x"):
        vit(torch.zeros(2, 1, 8, 8, dtype=torch.int64))


# ---- the attention captioner ---------------------------------------------------------
def captioner(seed=0):
    torch.manual_seed(seed)
    model = att.AttentionCaptioner(12, channels=(4, 6, 8), embed_dim=5, hidden_size=7)
    return model.to(F64).eval()


def test_captioner_attention_is_the_additive_softmax_average():
    model = captioner()
    feats, keys, (s, _) = model._start(randn(2, 1, 16, 24, seed=1))
    c, a = model.attend(feats, keys, s)
    assert feats.shape == (2, 2 * 3, 8) and a.shape == (2, 6)
    # e_{t,i} = v^T tanh(W_s s + W_h h_i), written out
    v = model.att_v.weight[0]
    e = torch.stack(
        [
            torch.stack(
                [
                    v
                    @ torch.tanh(
                        model.att_s.weight @ s[n]
                        + model.att_s.bias
                        + model.att_h.weight @ feats[n, i]
                    )
                    for i in range(6)
                ]
            )
            for n in range(2)
        ]
    )
    assert_close(a, torch.softmax(e, dim=1))
    assert_close(c, (a[:, :, None] * feats).sum(1))


def test_captioner_decode_is_forward_fed_its_own_words():
    model = captioner(seed=2)
    images = randn(3, 1, 16, 24, seed=3)
    tokens, weights = model.decode(images, 11, 4)
    assert tokens.shape == (3, 4) and tokens.dtype == torch.int64
    assert weights.shape == (3, 4, 2, 3)
    assert_close(weights.sum(dim=(2, 3)), torch.ones(3, 4, dtype=F64))
    inputs = torch.cat([torch.full((3, 1), 11), tokens[:, :-1]], dim=1)
    logits = model(images, inputs)
    assert logits.shape == (3, 4, 12)
    assert torch.equal(logits.argmax(-1), tokens)


def test_captioner_gradients():
    model = captioner(seed=4)
    images = randn(1, 1, 8, 16, seed=5, requires_grad=True)
    inputs = torch.tensor([[11, 3]])
    assert gradcheck(lambda x: model(x, inputs), (images,))


def test_captioner_rejects_bad_inputs():
    model = captioner()
    images = torch.zeros(2, 1, 16, 24, dtype=F64)
    with pytest.raises(ValueError, match="tokens in \\[0, 12\\)"):
        model(images, torch.tensor([[11, 12], [0, 1]]))
    with pytest.raises(TypeError, match="int64"):
        model(images, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="inputs"):
        model(images, torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="at least 8 x 8"):
        model(torch.zeros(2, 1, 4, 24, dtype=F64), torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="images"):
        model(
            torch.zeros(2, 3, 16, 24, dtype=F64), torch.zeros(2, 1, dtype=torch.int64)
        )
    with pytest.raises(ValueError, match="start"):
        model.decode(images, 12, 3)
    with pytest.raises(TypeError, match="channels"):
        att.AttentionCaptioner(12, channels=[4, 6, 8])


@pytest.mark.cuda
def test_vit_and_captioner_run_on_cuda_like_cpu():
    vit = att.VisionTransformer(8, 4, 2, 2, 8, 16, num_classes=3, in_channels=1)
    vit = vit.to(F64).eval()
    with torch.no_grad():
        vit.heads.head.weight.normal_()
    x = randn(2, 1, 8, 8, seed=7)
    out = vit.cuda()(x.cuda())
    assert out.device.type == "cuda"
    assert_close(out.cpu(), vit.cpu()(x))
    model = captioner()
    images = randn(2, 1, 16, 24, seed=8)
    tokens, weights = model.decode(images, 11, 3)
    tokens_gpu, weights_gpu = model.cuda().decode(images.cuda(), 11, 3)
    assert weights_gpu.device.type == "cuda"
    assert torch.equal(tokens_gpu.cpu(), tokens)
    assert_close(weights_gpu.cpu(), weights)
