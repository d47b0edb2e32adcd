"""Recipe schema, overrides and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from dlkit.errors import RecipeError, RecipeNotFound
from dlkit.recipe import load, load_text
from dlkit.recipe.bundled import bundled_recipes
from dlkit.recipe.schema import Recipe

MINIMAL = """\
name: tiny
task: classification
data:
  kind: builtin
  name: iris
model:
  arch: mlp
  hidden: [8]
"""


def problems(text: str, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_text(text, source="r.yaml", overrides=overrides)
    return info.value.problems


@pytest.mark.parametrize("name", sorted(bundled_recipes()))
def test_every_bundled_recipe_validates_and_names_its_command(name: str) -> None:
    path = bundled_recipes()[name]
    recipe = load(name)
    assert recipe.name == name
    first = path.read_text().splitlines()[0]
    assert first == f"# dlkit train {name}" or first.startswith(f"# dlkit train {name} ")


def test_expected_bundled_recipes_exist() -> None:
    assert {"digits-cnn", "digits-mlp", "breast-cancer-mlp", "wine-mlp", "iris-mlp", "diabetes-mlp"} <= set(
        bundled_recipes()
    )


def _models(cls: type[BaseModel], seen: set[type]) -> None:
    if cls in seen:
        return
    seen.add(cls)
    from typing import get_args

    def walk(a: object) -> None:
        if isinstance(a, type) and issubclass(a, BaseModel):
            _models(a, seen)
        for arg in get_args(a):
            walk(arg)

    for field in cls.model_fields.values():
        walk(field.annotation)


def test_every_field_of_every_section_is_described() -> None:
    seen: set[type] = set()
    _models(Recipe, seen)
    assert len(seen) >= 10
    missing = [f"{cls.__name__}.{name}" for cls in seen for name, f in cls.model_fields.items() if not f.description]
    assert missing == []


def test_defaults_fill_every_section() -> None:
    recipe = load_text(MINIMAL)
    assert recipe.optim.name == "adam"
    assert recipe.trainer.max_epochs == 20
    assert recipe.tracking.experiment == "dlkit"
    assert recipe.task.kind == "classification"
    assert recipe.data.val_fraction == 0.1


def test_overrides_parse_values_as_yaml_and_reach_nested_keys() -> None:
    recipe = load(
        "digits-cnn",
        [
            "optim.lr=3e-4",
            "trainer.max_epochs=20",
            "model.channels=[16,32]",
            "trainer.early_stopping.patience=3",
            "task.label_smoothing=0.1",
            "model.hidden.0=64",
        ],
    )
    assert recipe.optim.lr == pytest.approx(3e-4)
    assert recipe.trainer.max_epochs == 20
    assert recipe.model.channels == [16, 32]
    assert recipe.trainer.early_stopping is not None and recipe.trainer.early_stopping.patience == 3
    assert recipe.task.label_smoothing == 0.1
    assert recipe.model.hidden == [64]


def test_switching_architecture_by_override_validates_against_the_new_schema() -> None:
    recipe = load_text(MINIMAL, overrides=("model.arch=cnn", "model.hidden=[32]"))
    assert recipe.model.arch == "cnn" and recipe.model.channels == [32, 64]


def test_switching_data_kind_by_override_validates_against_the_new_kind() -> None:
    recipe = load("iris-mlp", ["data.kind=csv", "data.path=table.csv", "data.target=species"])
    assert recipe.data.kind == "csv" and not hasattr(recipe.data, "name")
    with pytest.raises(RecipeError) as info:
        load("iris-mlp", ["data.kind=csv", "data.path=table.csv"])
    assert "data.target: required field is missing" in str(info.value.problems)
    assert "data.name" not in str(info.value.problems)  # the old kind's key is not the user's mistake
    with pytest.raises(RecipeError, match=r"data\.nme"):
        load("iris-mlp", ["data.kind=csv", "data.path=t.csv", "data.target=y", "data.nme=x"])


def test_unknown_key_names_file_line_field_and_suggests() -> None:
    text = MINIMAL.replace("  hidden: [8]", "  hiden: [8]")
    (problem,) = problems(text)
    assert problem.startswith("r.yaml:8 model.hiden: unknown key; did you mean 'hidden'?")
    assert "allowed:" in problem and "dropout" in problem


def test_unknown_section_suggests_the_closest_one() -> None:
    (problem,) = problems(MINIMAL + "optimizer:\n  lr: 0.1\n")
    assert problem.startswith("r.yaml:9 optimizer: unknown key; did you mean 'optim'?")


def test_every_problem_is_listed_at_once() -> None:
    text = MINIMAL.replace("hidden: [8]", "hidden: [0]\n  dropout: 1.5") + "optim:\n  lr: -1\n  name: adamm\n"
    found = problems(text)
    assert len(found) == 4
    joined = "\n".join(found)
    assert "r.yaml:8 model.hidden.0: Input should be greater than 0" in joined
    assert "r.yaml:9 model.dropout: Input should be less than 1" in joined
    assert "r.yaml:11 optim.lr: Input should be greater than 0" in joined
    assert "optim.name" in joined and "'sgd', 'adam', 'adamw' or 'rmsprop'" in joined


def test_override_errors_name_the_override() -> None:
    (problem,) = problems(MINIMAL, ("trainer.max_epochs=zero",))
    assert problem.startswith("override 'trainer.max_epochs=zero' trainer.max_epochs:")


def test_unknown_architecture_suggests_and_lists() -> None:
    (problem,) = problems(MINIMAL, ("model.arch=mpl",))
    assert "model.arch: unknown value 'mpl' (did you mean 'mlp'?); choose one of" in problem


def test_task_shorthand_and_unknown_task() -> None:
    (problem,) = problems(MINIMAL.replace("task: classification", "task: clasification"))
    assert problem.startswith("r.yaml:2 task.kind: unknown value 'clasification' (did you mean 'classification'?)")


def test_missing_required_sections() -> None:
    found = problems("name: x\n")
    assert {p.split(" ")[1].rstrip(":") for p in found} == {"task", "data", "model"}


def test_monitor_must_be_a_metric_the_task_logs() -> None:
    (problem,) = problems(MINIMAL, ("trainer.monitor=val/rmse",))
    assert "trainer.monitor: 'val/rmse' is not logged by task classification" in problem
    assert "val/acc" in problem
    (problem,) = problems(
        MINIMAL.replace("task: classification", "task: regression").replace("iris", "diabetes"),
        ("trainer.early_stopping.monitor=val/acc",),
    )
    assert "trainer.early_stopping.monitor" in problem and "val/rmse" in problem
    # a recipe with a search space names its own bad monitor, not a searched value it happens to check first
    searched = MINIMAL + "tune:\n  space:\n    optim.lr: {type: float, low: 1.0e-4, high: 1.0e-2}\n"
    (problem,) = problems(searched, ("trainer.monitor=train/loss",))
    assert "trainer.monitor: 'train/loss' is not logged" in problem and "tune.space" not in problem


def test_cross_field_rules() -> None:
    (problem,) = problems(MINIMAL, ("optim.nesterov=true", "optim.name=adam"))
    assert "nesterov needs name: sgd" in problem
    (problem,) = problems(MINIMAL, ("data.val_fraction=0.5", "data.test_fraction=0.45"))
    assert "leaves too little for training" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "r.yaml:2: YAML syntax error"),
        ("", "the recipe is empty"),
        ("- a\n- b\n", "a recipe must be a mapping"),
        ("name: a\nname: b\n", "r.yaml:2 name: key appears twice"),
    ],
)
def test_malformed_yaml(text: str, expected: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_text(text, source="r.yaml")
    assert expected in str(info.value)


@pytest.mark.parametrize("override", ["noequals", "=3", "a..b=1", "name.x=1"])
def test_malformed_overrides(override: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_text(MINIMAL, source="r.yaml", overrides=(override,))
    assert f"override '{override}'" in str(info.value)


def test_missing_recipe_suggests_bundled_name(tmp_path: Path) -> None:
    with pytest.raises(RecipeNotFound) as info:
        load("digits-cn")
    assert info.value.hint == "did you mean 'digits-cnn'?"
    with pytest.raises(RecipeNotFound):
        load(tmp_path / "nope.yaml")


def test_recipe_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my-exp.yaml"
    path.write_text(MINIMAL.replace("name: tiny\n", ""))
    assert load(path).name == "my-exp"


def test_non_utf8_recipe_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(MINIMAL.encode() + "description: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RecipeError, match="not UTF-8"):
        load(path)
