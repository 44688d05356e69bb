"""Attention chapter exercises: checkers pass right answers and name wrong ones."""

import math

import torch
import torch.nn.functional as F

from dlcv.exercises import attention as ex
from dlcv.exercises.attention import torch_patchify


def text(result):
    """The report on one line: the checkers wrap long lines."""
    return " ".join(result.message.split())


def stub(*args, **kwargs):
    raise NotImplementedError


# ---- masked attention ----------------------------------------------------------------
def masked_attention(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        L, S = scores.shape[-2:]
        allowed = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def test_masked_attention_accepts_a_correct_solution(capsys):
    assert ex.check_masked_attention(masked_attention)
    assert "✓ masked_attention: passed all 6 cases" in capsys.readouterr().out


def test_masked_attention_names_a_missing_scale():
    def unscaled(q, k, v, causal=False):
        return masked_attention(q * math.sqrt(q.shape[-1]), k, v, causal)

    result = ex.check_masked_attention(unscaled)
    assert not result and result.attempted
    assert "case 1" in text(result)


def test_masked_attention_names_an_ignored_mask():
    def unmasked(q, k, v, causal=False):
        return masked_attention(q, k, v, causal=False)

    result = ex.check_masked_attention(unmasked)
    assert not result
    assert "causal mask" in text(result)


def test_masked_attention_names_an_unshifted_exponential():
    def naive(q, k, v, causal=False):
        e = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
        if causal:
            e = e * torch.ones(e.shape[-2:], dtype=e.dtype).tril()
        return e / e.sum(-1, keepdim=True) @ v

    result = ex.check_masked_attention(naive)
    assert not result
    assert "large scores" in text(result)


def test_masked_attention_stub_is_not_attempted(capsys):
    result = ex.check_masked_attention(stub)
    assert not result and not result.attempted
    assert "not attempted yet" in capsys.readouterr().out


# ---- patchify ------------------------------------------------------------------------
def patchify(images, patch_size):
    H, W = images.shape[-2:]
    P = patch_size
    x = images.unflatten(2, (H // P, P)).unflatten(4, (W // P, P))
    return x.permute(0, 2, 4, 1, 3, 5).flatten(3).flatten(1, 2)


def test_patchify_accepts_a_correct_solution(capsys):
    assert ex.check_patchify(patchify)
    assert "✓ patchify: passed all 5 cases" in capsys.readouterr().out


def test_patchify_reference_is_the_vit_patch_embedding():
    conv = torch.nn.Conv2d(3, 5, 4, stride=4)
    x = torch.randn(2, 3, 8, 12)
    embedded = torch_patchify(x, 4) @ conv.weight.flatten(1).T + conv.bias
    torch.testing.assert_close(embedded, conv(x).flatten(2).transpose(1, 2))


def test_patchify_names_a_wrong_order_inside_the_patch():
    def channels_last(images, patch_size):
        H, W = images.shape[-2:]
        P = patch_size
        x = images.unflatten(2, (H // P, P)).unflatten(4, (W // P, P))
        return x.permute(0, 2, 4, 3, 5, 1).flatten(3).flatten(1, 2)

    result = ex.check_patchify(channels_last)
    assert not result
    assert "case 2" in text(result)


def test_patchify_names_column_major_patches():
    def column_major(images, patch_size):
        H, W = images.shape[-2:]
        P = patch_size
        x = images.unflatten(2, (H // P, P)).unflatten(4, (W // P, P))
        return x.permute(0, 4, 2, 1, 3, 5).flatten(3).flatten(1, 2)

    result = ex.check_patchify(column_major)
    assert not result
    assert "case 1" in text(result)


def test_patchify_stub_is_not_attempted():
    assert not ex.check_patchify(stub).attempted


def test_reference_matches_unfold():
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(
        torch_patchify(x, 3), F.unfold(x, 3, stride=3).transpose(1, 2)
    )
