import math
import random
import subprocess
import sys

import pytest
import torch
from torch.testing import assert_close

from dlcv.autograd import Value, topological_order


def leaves_torch(*xs):
    return [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]


def check_same(values, tensors, out_value, out_tensor):
    """Values and gradients of a Value computation equal those of its torch twin."""
    out_value.backward()
    out_tensor.backward()
    assert_close(torch.tensor(out_value.data, dtype=torch.float64), out_tensor.detach())
    for v, t in zip(values, tensors, strict=True):
        assert_close(torch.tensor(v.grad, dtype=torch.float64), t.grad)


def test_sanity_check():
    # micrograd's own test: a graph with reuse, relu and mixed constants
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x

    (xt,) = leaves_torch(-4.0)
    zt = 2 * xt + 2 + xt
    qt = zt.relu() + zt * xt
    ht = (zt * zt).relu()
    yt = ht + qt + qt * xt
    check_same([x], [xt], y, yt)


def test_more_ops():
    # micrograd's second test, with /, **, - and reflected ops
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f

    at, bt = leaves_torch(-4.0, 2.0)
    ct = at + bt
    dt = at * bt + bt**3
    ct = ct + ct + 1
    ct = ct + 1 + ct + (-at)
    dt = dt + dt * 2 + (bt + at).relu()
    dt = dt + 3 * dt + (bt - at).relu()
    et = ct - dt
    ft = et**2
    gt = ft / 2.0
    gt = gt + 10.0 / ft
    check_same([a, b], [at, bt], g, gt)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: (a * b).exp(),
        lambda a, b: (a * a + b * b).log(),
        lambda a, b: (a - b).tanh(),
        lambda a, b: (a + 0.3 * b).sigmoid(),
        lambda a, b: (-a) ** 3 - b**-2,
        lambda a, b: (a * a + 1) ** 0.5 / b,
        lambda a, b: 1 - a / (b * b + 1),
        lambda a, b: (a - b).relu() * (b - a).relu() + a.relu(),
    ],
)
def test_each_op_equals_torch(fn):
    a, b = Value(0.7), Value(-1.3)
    at, bt = leaves_torch(0.7, -1.3)
    check_same([a, b], [at, bt], fn(a, b), fn(at, bt))


def test_max_routes_and_splits_ties_like_torch_maximum():
    for x, y in [(2.0, -1.0), (-3.0, 0.5), (1.5, 1.5)]:
        a, b = Value(x), Value(y)
        at, bt = leaves_torch(x, y)
        check_same([a, b], [at, bt], a.max(b) * 3, torch.maximum(at, bt) * 3)


def test_sigmoid_is_stable_for_large_inputs():
    for x in (-800.0, -40.0, 0.0, 40.0, 800.0):
        v = Value(x)
        (t,) = leaves_torch(x)
        check_same([v], [t], v.sigmoid(), t.sigmoid())


def test_lecture_example_gradients():
    # f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) at the lecture's numbers
    w0, x0, w1, x1, w2 = (Value(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    f.backward()
    s = 1 / (1 + math.exp(-1.0))
    assert f.data == pytest.approx(s)
    local = s * (1 - s)  # the sigmoid gate's local gradient
    expected = [local * -1.0, local * 2.0, local * -2.0, local * -3.0, local]
    assert [v.grad for v in (w0, x0, w1, x1, w2)] == pytest.approx(expected)
    # the sigmoid node gives the same gradients with fewer nodes
    w0b, x0b = Value(2.0), Value(-1.0)
    g = (w0b * x0b + 6.0 + -3.0).sigmoid()
    g.backward()
    assert (w0b.grad, x0b.grad) == pytest.approx((w0.grad, x0.grad))


# ---- random expressions --------------------------------------------------------------
UNARY = ["neg", "exp", "log", "tanh", "relu", "sigmoid", "pow"]
BINARY = ["+", "-", "*", "/", "max"]
POWERS = [2, 3, -1, 0.5, 1.5, -2]


def random_program(rng: random.Random, n_inputs: int, n_ops: int) -> list:
    """A random straight-line program; each op reads any earlier register (fan-out).

    A binary op takes two registers, or a register and a constant on either side (to
    exercise the reflected ops such as ``2.0 - x``).
    """

    def recent(n_regs: int) -> int:  # mostly the newest register: deep chains
        return n_regs - 1 if rng.random() < 0.6 else rng.randrange(n_regs)

    program = []
    for i in range(n_ops):
        n_regs = n_inputs + i
        if rng.random() < 0.45:
            program.append((rng.choice(UNARY), recent(n_regs), rng.choice(POWERS)))
        else:
            op = rng.choice(BINARY)
            a, b = recent(n_regs), rng.randrange(n_regs)
            const = round(rng.uniform(-2, 2), 3)
            modes = ["regs", "regs", "const_right"] + (
                ["const_left"] if op != "max" else []
            )
            program.append((op, a, b, const, rng.choice(modes)))
    return program


def apply_unary(op, x, p):
    if op == "neg":
        return -x
    if op == "pow":
        return x**p
    return getattr(x, op)()  # exp, log, tanh, relu, sigmoid: same names on both


def apply_binary(op, x, z, maximum):
    if op == "+":
        return x + z
    if op == "-":
        return x - z
    if op == "*":
        return x * z
    if op == "/":
        return x / z
    return maximum(x, z)


def operands(args, regs):
    a, b, const, mode = args
    if mode == "regs":
        return regs[a], regs[b]
    if mode == "const_right":
        return regs[a], const
    return const, regs[a]


def run_program(program, inputs, maximum):
    regs = list(inputs)
    for op, *args in program:
        if op in UNARY:
            r, p = args
            regs.append(apply_unary(op, regs[r], p))
        else:
            x, z = operands(args, regs)
            regs.append(apply_binary(op, x, z, maximum))
    return regs


def torch_maximum(x, z):
    return torch.maximum(x, torch.as_tensor(z, dtype=torch.float64))


def value_maximum(x, z):
    return x.max(z)


def well_behaved(program, xs):
    """Run in torch float64 first; keep programs that are tame everywhere.

    Every register must be finite and bounded; divisors, bases of negative powers and
    inputs of log must stay away from 0; inputs of relu and max must stay away from
    their kinks, so that rounding differences between Python's math and torch cannot
    flip a comparison.
    """
    with torch.no_grad():
        regs = leaves_torch(*xs)
        for op, *args in program:
            if op in UNARY:
                r, p = args
                x = float(regs[r])
                if op == "log" and x < 1e-3:
                    return False
                if op == "pow" and (abs(x) < 1e-2 or (x < 0 and p != int(p))):
                    return False
                if op == "relu" and 0 < abs(x) < 1e-6:
                    return False
                regs.append(apply_unary(op, regs[r], p))
            else:
                x, z = (float(t) for t in operands(args, regs))
                if op == "/" and abs(z) < 1e-2:
                    return False
                if op == "max" and 0 < abs(x - z) < 1e-6:
                    return False
                regs.append(apply_binary(op, *operands(args, regs), torch_maximum))
            if not (torch.isfinite(regs[-1]) and abs(float(regs[-1])) < 1e4):
                return False
    return True


@pytest.mark.parametrize("seed", range(40))
def test_random_expressions_equal_torch(seed):
    rng = random.Random(seed)
    for _ in range(1000):
        n_inputs = rng.randint(1, 4)
        xs = [round(rng.uniform(-3, 3), 4) for _ in range(n_inputs)]
        program = random_program(rng, n_inputs, rng.randint(3, 25))
        if well_behaved(program, xs):
            break
    else:
        pytest.fail("no well-behaved program found")
    values = [Value(x) for x in xs]
    tensors = leaves_torch(*xs)
    # the output sums every computed register, so that no op is dead code
    out_v = sum(run_program(program, values, value_maximum)[len(xs) :])
    out_t = sum(run_program(program, tensors, torch_maximum)[len(xs) :])
    # a program that ignores an input leaves that input's torch grad None; make it 0
    out_t = out_t + sum(0 * t for t in tensors)
    check_same(values, tensors, out_v, out_t)


# ---- backward semantics --------------------------------------------------------------
def test_backward_twice_accumulates_leaves_like_torch():
    a, b = Value(1.5), Value(-0.5)
    at, bt = leaves_torch(1.5, -0.5)
    out = (a * b).tanh() + a
    out_t = (at * bt).tanh() + at
    out.backward()
    out.backward()
    out_t.backward(retain_graph=True)
    out_t.backward()
    assert_close(
        torch.tensor([a.grad, b.grad], dtype=torch.float64),
        torch.stack([at.grad, bt.grad]),
    )
    assert out.grad == 1.0  # an intermediate node is recomputed, not accumulated


def test_backward_with_upstream_gradient():
    a = Value(0.3)
    out = a.exp() * 2
    out.backward(gradient=-1.5)
    assert a.grad == pytest.approx(-1.5 * 2 * math.exp(0.3))


def test_deep_graph_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_topological_order_puts_inputs_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    order = topological_order(d)
    assert len(order) == 4 and order[-1] is d
    position = {id(v): i for i, v in enumerate(order)}
    for v in order:
        for child in v._prev:
            assert position[id(child)] < position[id(v)]


def test_bad_input_messages():
    with pytest.raises(TypeError, match="real number \\(int or float\\), got str"):
        Value("1.0")
    with pytest.raises(TypeError, match="got bool"):
        Value(True)
    with pytest.raises(TypeError, match="exponent must be an int or float constant"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="log needs a positive input, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="integer exponent, got -2.0 \\*\\* 0.5"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="Value holding 0"):
        Value(1.0) / 0
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        topological_order(1.0)
    with pytest.raises(TypeError, match="gradient must be a real number, got str"):
        Value(1.0).backward("1")


@pytest.mark.cuda
def test_engine_matches_torch_on_cuda():
    # the engine is pure Python; its gradients match torch's computed on the GPU
    a, b = Value(0.4), Value(-1.1)
    out = (a * b).tanh() + (a - b).sigmoid() * a.exp()
    out.backward()
    at = torch.tensor(0.4, dtype=torch.float64, device="cuda", requires_grad=True)
    bt = torch.tensor(-1.1, dtype=torch.float64, device="cuda", requires_grad=True)
    out_t = (at * bt).tanh() + (at - bt).sigmoid() * at.exp()
    out_t.backward()
    assert_close(torch.tensor(out.data, dtype=torch.float64), out_t.detach().cpu())
    assert_close(
        torch.tensor([a.grad, b.grad]).double(), torch.stack([at.grad, bt.grad]).cpu()
    )


def test_nan_propagates_through_relu_and_max_as_in_torch():
    import math

    assert math.isnan(Value(math.nan).relu().data)
    assert math.isnan(torch.relu(torch.tensor(math.nan)).item())
    for a, b in ((math.nan, 1.0), (1.0, math.nan)):
        expected = torch.maximum(torch.tensor(a), torch.tensor(b)).item()
        assert math.isnan(expected)
        assert math.isnan(Value(a).max(Value(b)).data), (a, b)
    assert Value(-2.0).relu().data == 0.0 and Value(3.0).max(2.0).data == 3.0


def test_the_engine_imports_no_plotting_library():
    code = (
        "import sys, dlcv.autograd; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'matplotlib', 'networkx'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
