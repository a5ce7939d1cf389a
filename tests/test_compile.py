"""The compiler: every block family compiles and trains; the result is a plain, exportable module."""

import io

import pytest
import torch
from torch import nn

import nas
from cells import bottleneck, darts_cell, dense_layer, dense_transition, inception_module, mbconv
from nas.core.genotype import AuxHead, Network, Stage, chain
from search_spaces.zoo.nas_cells import DARTS_V2

DARTS_V2_NORMAL, DARTS_V2_REDUCE = list(DARTS_V2.normal), list(DARTS_V2.reduce)

STEM16 = chain("stem", [("conv", {"channels": 16, "kernel": 3}), ("bn",), ("relu",)])
HEAD = chain("head", [("adaptive_avgpool",), ("flatten",), ("linear", {"channels": "K"})])


def small(name: str, *stages: Stage, **kw) -> Network:
    return Network(name, STEM16, stages, HEAD, (3, 16, 16), 10, **kw)


NETS = {
    "bottleneck": small(
        "bottleneck_net", Stage(bottleneck(), 2, 32, 1), Stage(bottleneck(groups=4, width=0.5), 2, 64, 2)
    ),
    "dense": small(
        "dense_net", Stage(dense_layer(8, bn_size=2), 3, None, 1), Stage(dense_transition(), 1, 20, 2)
    ),
    "inception": small("inception_net", Stage(inception_module("i3a", 8, 8, 16, 4, 8, 8), 1, None, 1)),
    "mbconv": small(
        "mbconv_net",
        Stage(mbconv("mb1", 1, 3), 1, 16, 1),
        Stage(mbconv("mb6", 6, 5), 2, 24, 2),
        drop_path=0.2,
        drop_path_schedule="linear",
    ),
    "nasnet": small(
        "darts_net",
        Stage(darts_cell("normal", DARTS_V2_NORMAL, [2, 3, 4, 5], False), 2, 8, 1),
        Stage(darts_cell("reduce", DARTS_V2_REDUCE, [2, 3, 4, 5], True), 1, 16, 2),
        Stage(darts_cell("normal", DARTS_V2_NORMAL, [2, 3, 4, 5], False), 1, 16, 1),
        drop_path=0.2,
    ),
}


@pytest.mark.parametrize("kind", NETS)
def test_block_networks_train(kind):
    model = nas.build(NETS[kind])
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]  # the gradient reaches every weight and training moves
    model.eval()
    assert model(x).shape == (4, 10)


def test_block_shapes():
    model = nas.build(NETS["dense"])
    dense = model.stages[0]
    assert [c.ops["conv2"].out_channels for c in dense] == [8, 8, 8]
    assert dense[2].ops["conv1"].in_channels == 16 + 2 * 8  # concat growth
    assert model.stages[1][0].ops["conv"].in_channels == 16 + 3 * 8
    inc = nas.build(NETS["inception"]).stages[0][0]
    assert inc.ops["b3b_conv"].kernel_size == (3, 3)
    mb = nas.build(NETS["mbconv"])
    first, second = mb.stages[1]
    assert "residual" not in first.ops and isinstance(second.ops["residual"], nn.Identity)
    assert first.ops["se_fc1"].out_channels == 16 // 4 and first.ops["expand_conv"].out_channels == 96
    assert second.ops["dw_conv"].groups == 24 * 6


def test_bottleneck_projection_only_when_shape_changes():
    model = nas.build(NETS["bottleneck"])
    kinds = [type(c.ops["shortcut"]).__name__ for stage in model.stages for c in stage]
    assert kinds == ["Sequential", "Identity", "Sequential", "Identity"]


def test_drop_path_schedule_and_effect():
    model = nas.build(NETS["mbconv"])
    rates = [c.drop_path_rate for s in model.stages for c in s]
    assert rates == pytest.approx([0.0, 0.2 / 3, 0.4 / 3])
    model.set_drop_path(0.9)
    x = torch.randn(64, 3, 16, 16)
    model.eval()
    ref = model(x)
    assert torch.equal(ref, model(x))  # eval: deterministic, no drop-path
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()  # isolate drop-path from batch statistics
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, model(x))


def test_inplace_relu_only_where_safe():
    model = nas.build("resnet18", input_size=32)
    block = model.stages[0][0]
    assert block.ops["c1_act"].inplace  # conv-bn-relu chain: fresh tensor, one reader
    assert block.ops["relu"].inplace  # after the residual sum
    # A ReLU reading a cell input must never overwrite it.
    net = NETS["inception"]
    c = nas.build(net)
    assert all(
        not getattr(m, "inplace", False) for n, m in c.stages[0][0].ops.items() if n.startswith("b4_pool")
    )


def test_forward_does_not_modify_its_input():
    model = nas.build("resnet18", input_size=32).train()
    x = torch.randn(2, 3, 32, 32)
    x0 = x.clone()
    model(x).sum().backward()
    assert torch.equal(x, x0)


def test_aux_head_in_training_only():
    aux_head = chain("aux", [("adaptive_avgpool",), ("flatten",), ("linear", {"channels": "K"})])
    g = small("aux_net", Stage(bottleneck(), 2, 32, 1), aux=(AuxHead(after=0, head=aux_head),))
    model = nas.build(g)
    out = model(torch.randn(2, 3, 16, 16))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 10), (2, 10)]
    model.eval()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_state_dict_round_trip(tmp_path):
    a = nas.build(NETS["nasnet"]).eval()
    path = tmp_path / "w.pt"
    torch.save(a.state_dict(), path)
    b = nas.build(NETS["nasnet"]).eval()
    b.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(a(x), b(x))


def test_channels_last():
    model = nas.build(NETS["mbconv"]).eval()
    x = torch.randn(2, 3, 16, 16)
    ref = model(x)
    model = model.to(memory_format=torch.channels_last)
    out = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_jit_trace_and_export():
    model = nas.build(NETS["nasnet"]).eval()
    x = torch.randn(2, 3, 16, 16)
    ref = model(x)
    traced = torch.jit.trace(model, x)
    torch.testing.assert_close(traced(x), ref)
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), ref)


def test_torch_compile():
    model = nas.build(NETS["bottleneck"]).eval()
    x = torch.randn(2, 3, 16, 16)
    ref = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")  # graph capture without codegen
    torch.testing.assert_close(compiled(x), ref)


@pytest.mark.slow
def test_torch_compile_inductor():
    model = nas.build(NETS["mbconv"]).eval()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x), rtol=1e-4, atol=1e-5)


def test_compile_cell_alone():
    t = nas.TensorInfo((16, 8, 8))
    mod, out = nas.compile_cell(bottleneck(), [t], width=64, stride=2)
    assert out.shape == (64, 4, 4)
    assert mod(torch.randn(2, 16, 8, 8)).shape == (2, 64, 4, 4)


def test_build_overrides_and_meta_device():
    m = nas.build("resnet20", num_classes=100)
    assert m(torch.randn(1, 3, 32, 32)).shape == (1, 100)
    with torch.device("meta"):
        big = nas.build("resnet152")
    assert sum(p.numel() for p in big.parameters()) == 60_192_808


def test_cell_inputs_are_never_overwritten_in_place():
    # Two cells read the stem output (h[i-2] and h[i-1]); a cell starting with ReLU must not modify it.
    from nas.core.genotype import Cell, Node

    c = Cell(
        "relu_first",
        (Node("r", "relu", ("h1",)), Node("out", "conv", ("r", "h0"), channels="C", attrs={"kernel": 1})),
        "out",
        ("h0", "h1"),
    )
    model = nas.build(small("shared", Stage(c, 2, 16, 1)))
    assert not any(getattr(m, "inplace", False) for s in model.stages for cell in s for m in cell.modules())
