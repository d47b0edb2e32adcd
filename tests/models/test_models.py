"""Every registered architecture, generated from the registry."""

from __future__ import annotations

import pytest
import torch

from dlkit.errors import BadInput, UnknownName
from dlkit.models import build, list_models
from dlkit.models.params import ARCHITECTURES
from dlkit.registry import Registry
from dlkit.schema_base import Strict

IMAGE = (1, 8, 8)
TABLE = (30,)


def input_shapes(arch: str) -> list[tuple[int, ...]]:
    return [IMAGE] if arch == "cnn" else [IMAGE, TABLE]


@pytest.mark.parametrize("arch", list_models())
def test_builds_from_defaults_with_finite_output_of_expected_shape(arch: str) -> None:
    params = ARCHITECTURES.get(arch).params()
    for shape in input_shapes(arch):
        torch.manual_seed(0)
        model = build(params, shape, 5)
        out = model(torch.randn(16, *shape))
        assert out.shape == (16, 5)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", list_models())
def test_one_optimisation_step_lowers_the_loss(arch: str) -> None:
    torch.manual_seed(0)
    shape = input_shapes(arch)[0]
    model = build(ARCHITECTURES.get(arch).params(), shape, 3)
    model.eval()  # dropout off, batch norm fixed: the same function before and after the step
    x, y = torch.randn(32, *shape), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = torch.nn.functional.cross_entropy(model(x), y)
    before.backward()
    opt.step()
    after = torch.nn.functional.cross_entropy(model(x), y)
    assert after < before


def test_cnn_refuses_table_inputs() -> None:
    with pytest.raises(BadInput, match="needs image inputs"):
        build(ARCHITECTURES.get("cnn").params(), TABLE, 2)


def test_cnn_options_change_the_network() -> None:
    params = ARCHITECTURES.get("cnn").params
    deep = build(params(channels=[8, 16, 32, 64], convs_per_block=2, pool="avg", global_pool=True), IMAGE, 10)
    assert deep(torch.randn(2, *IMAGE)).shape == (2, 10)
    plain = build(params(batch_norm=False, pool="none", hidden=[]), IMAGE, 10)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid"])
def test_every_activation_builds(act: str) -> None:
    model = build(ARCHITECTURES.get("mlp").params(activation=act, batch_norm=True), TABLE, 2)
    assert model(torch.randn(4, *TABLE)).shape == (4, 2)


def test_registry_refuses_duplicates_and_suggests_unknown_names() -> None:
    reg: Registry[type] = Registry("architecture")

    @reg.register("net", target="x:y")
    class P(Strict):
        """A net."""

    with pytest.raises(ValueError, match="registered twice"):
        reg.register("net", target="x:z")(P)
    with pytest.raises(UnknownName) as info:
        reg.get("nett")
    assert info.value.hint == "did you mean 'net'?"
