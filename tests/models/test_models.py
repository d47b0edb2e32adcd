"""Every registered architecture, generated from the registry."""

from __future__ import annotations

import pytest
import torch

from dlkit.data.info import DataInfo
from dlkit.errors import BadInput, UnknownName
from dlkit.models import build, list_models
from dlkit.recipe.architectures import ARCHITECTURES
from dlkit.registry import Registry
from dlkit.schema_base import Strict

IMAGE = (1, 8, 8)
TABLE = (30,)
SEQUENCE = (12, 3)
TOKENS = (20,)
VOCAB = 50
PAIRS = (2,)  # (user code, item code)
USERS, ITEMS = 7, 11

KIND = {IMAGE: "image", TABLE: "dense", SEQUENCE: "sequence", TOKENS: "tokens", PAIRS: "pairs"}
RECURRENT = ("rnn", "lstm", "gru")
SEQUENCE_MODELS = (*RECURRENT, "transformer")


def info(shape: tuple[int, ...], out: int, task: str = "classification") -> DataInfo:
    return DataInfo(
        name="t",
        source="t",
        task=task,
        input_shape=shape,
        output_dim=out,
        input_kind=KIND[shape],  # type: ignore[arg-type]
        vocab_size=VOCAB if shape == TOKENS else 0,
        class_names=[str(i) for i in range(out)] if shape != PAIRS else None,
        preprocessing={"users": [f"u{i}" for i in range(USERS)], "items": [f"i{i}" for i in range(ITEMS)]}
        if shape == PAIRS
        else {},
    )


#: an example input of each kind an architecture may declare in its `input_kinds`
SHAPE = {"image": IMAGE, "dense": TABLE, "sequence": SEQUENCE, "tokens": TOKENS, "pairs": PAIRS}


def input_shapes(arch: str) -> list[tuple[int, ...]]:
    """One example shape per input kind the architecture's entry declares."""
    return [SHAPE[kind] for kind in ARCHITECTURES.get(arch).params.input_kinds]


def natural_task(arch: str) -> str:
    return {"gan": "generation", "mf": "recommendation", "two_tower": "recommendation"}.get(arch, "classification")


def expected_shape(arch: str, n: int, out: int) -> tuple[int, ...]:
    if natural_task(arch) == "recommendation":
        return (n, 2)  # a rating and an interaction logit per pair
    return (n,) if arch == "gan" else (n, out)  # a GAN's forward scores samples (discriminator logits)


def objective(arch: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss one step should lower: cross-entropy, or the discriminator's for a GAN."""
    if arch == "gan":
        return torch.nn.functional.binary_cross_entropy_with_logits(model(x, y), torch.ones(len(x)))
    if natural_task(arch) == "recommendation":
        return torch.nn.functional.mse_loss(model(x), torch.stack([y.float(), 1.0 - y.float()], dim=1))
    return torch.nn.functional.cross_entropy(model(x), y)


def sample(shape: tuple[int, ...], n: int) -> torch.Tensor:
    if shape == PAIRS:
        return torch.stack([torch.randint(1, USERS + 1, (n,)), torch.randint(1, ITEMS + 1, (n,))], 1).float()
    if shape == TOKENS:
        x = torch.randint(2, VOCAB, (n, *shape))
        x[: n // 2, 15:] = 0  # padded tails
        return x
    return torch.randn(n, *shape)


@pytest.mark.parametrize("arch", list_models())
def test_builds_from_defaults_with_finite_output_of_expected_shape(arch: str) -> None:
    params = ARCHITECTURES.get(arch).params()
    for shape in input_shapes(arch):
        torch.manual_seed(0)
        model = build(params, info(shape, 5, natural_task(arch)))
        x = sample(shape, 16)
        out = model(x, torch.randint(0, 5, (16,))) if arch == "gan" else model(x)
        assert out.shape == expected_shape(arch, 16, 5)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", list_models())
def test_one_optimisation_step_lowers_the_loss(arch: str) -> None:
    torch.manual_seed(0)
    shape = input_shapes(arch)[0]
    model = build(ARCHITECTURES.get(arch).params(), info(shape, 3, natural_task(arch)))
    model.eval()  # dropout off, batch norm fixed: the same function before and after the step
    x, y = sample(shape, 32), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = objective(arch, model, x, y)
    before.backward()
    opt.step()
    assert objective(arch, model, x, y) < before


def test_cnn_refuses_table_inputs() -> None:
    with pytest.raises(BadInput, match="needs image inputs"):
        build(ARCHITECTURES.get("cnn").params(), info(TABLE, 2))


def test_cnn_options_change_the_network() -> None:
    params = ARCHITECTURES.get("cnn").params
    deep = build(params(channels=[8, 16, 32, 64], convs_per_block=2, pool="avg", global_pool=True), info(IMAGE, 10))
    assert deep(torch.randn(2, *IMAGE)).shape == (2, 10)
    plain = build(params(batch_norm=False, pool="none", hidden=[]), info(IMAGE, 10))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid"])
def test_every_activation_builds(act: str) -> None:
    model = build(ARCHITECTURES.get("mlp").params(activation=act, batch_norm=True), info(TABLE, 2))
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


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        *(
            (a, {"pooling": p, "bidirectional": True, "num_layers": 2})
            for a in RECURRENT
            for p in ("last", "mean", "max")
        ),
        ("transformer", {"pooling": "mean"}),
        ("transformer", {"pooling": "cls", "positional": "learned"}),
    ],
)
def test_padding_does_not_change_a_sequence_model_result(arch: str, options: dict[str, object]) -> None:
    torch.manual_seed(0)
    params = ARCHITECTURES.get(arch).params(**options)
    model = build(params, info(TOKENS, 2)).eval()
    short = torch.randint(2, VOCAB, (3, 20))
    short[:, 12:] = 0
    longer = torch.zeros(3, 40, dtype=torch.long)
    longer[:, :20] = short
    torch.testing.assert_close(model(short), model(longer))


def test_recurrent_models_refuse_tables() -> None:
    with pytest.raises(BadInput, match="needs sequences, text or images"):
        build(ARCHITECTURES.get("lstm").params(), info(TABLE, 2))


def test_mlp_embeds_categorical_columns() -> None:
    spec = DataInfo(
        name="t", source="t", task="classification", input_shape=(4,), output_dim=2, categorical=[(2, 5), (3, 3)]
    )
    model = build(ARCHITECTURES.get("mlp").params(hidden=[8]), spec)
    x = torch.tensor([[0.5, -1.0, 4.0, 2.0], [0.1, 0.2, 0.0, 1.0]])
    assert model(x).shape == (2, 2)
    assert [e.num_embeddings for e in model.embeddings] == [5, 3]


def test_resnet_depth_and_width_are_configurable() -> None:
    params = ARCHITECTURES.get("resnet").params
    small = build(params(widths=[8], blocks=[1]), info(IMAGE, 10))
    big = build(params(widths=[16, 32, 64], blocks=[2, 3, 2]), info(IMAGE, 10))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(big) > 10 * count(small)
    assert big(torch.randn(2, *IMAGE)).shape == (2, 10)
    with pytest.raises(ValueError, match="blocks has 1 entries but widths has 2"):
        params(widths=[8, 16], blocks=[1])


def test_transformer_heads_must_divide_width() -> None:
    with pytest.raises(ValueError, match="heads 3 must divide d_model 64"):
        ARCHITECTURES.get("transformer").params(heads=3)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_autoencoder_reconstructs_or_predicts_from_the_same_encoder(kind: str) -> None:
    params = ARCHITECTURES.get("autoencoder").params(kind=kind, channels=[4, 8], hidden=[32], latent=6)
    ae = build(params, info(IMAGE, 10, "reconstruction"))
    clf = build(params, info(IMAGE, 10, "classification"))
    x = torch.randn(5, *IMAGE)
    assert ae(x).shape == x.shape and clf(x).shape == (5, 10)
    ae_keys = {k for k in ae.state_dict() if k.startswith("encoder.")}
    assert ae_keys and ae_keys == {k for k in clf.state_dict() if k.startswith("encoder.")}


@pytest.mark.parametrize("kind", ["dense", "dcgan"])
def test_gan_generates_samples_of_the_data_shape_for_each_class(kind: str) -> None:
    model = build(ARCHITECTURES.get("gan").params(kind=kind), info(IMAGE, 10, "generation"))
    labels = torch.arange(10).repeat(2)
    samples = model.generate(labels)
    assert samples.shape == (20, *IMAGE) and torch.isfinite(samples).all()
    assert model(samples, labels).shape == (20,)
    with pytest.raises(BadInput, match="need image sides divisible by 16, not 8x8"):
        build(ARCHITECTURES.get("gan").params(channels=[8, 8, 8, 8]), info(IMAGE, 10, "generation"))
