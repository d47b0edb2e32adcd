"""Generation with a GAN: manual optimisation of discriminator and generator, sample grids, class fidelity.

Class fidelity is the share of generated samples of a requested class that a
separately trained dlkit classifier (the judge) assigns to that class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlkit import metric_names as m
from dlkit import reports
from dlkit.data.info import DataInfo
from dlkit.errors import BadInput
from dlkit.models.checkpoints import load_trained
from dlkit.recipe.schema import Recipe
from dlkit.recipe.tasks import GenerationParams
from dlkit.schema_base import section
from dlkit.tasks.base import LossMeter, Task
from dlkit.tasks.optimizers import make_optimizer


def _scaler_tensors(scaler: dict[str, Any], shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    if scaler.get("method", "none") == "none":
        return torch.zeros(()), torch.ones(())
    return torch.tensor(scaler["shift"], dtype=torch.float32), torch.tensor(scaler["scale"], dtype=torch.float32)


class GenerationTask(Task):
    """GAN training: one discriminator and one generator step per batch."""

    predicts: ClassVar[bool] = False  # it generates samples
    explains: ClassVar[bool] = False

    judge: Any
    judge_shift: torch.Tensor
    judge_scale: torch.Tensor
    data_shift: torch.Tensor
    data_scale: torch.Tensor

    def __init__(self, recipe: Recipe, backbone: nn.Module, info: DataInfo, tracking_uri: str | None = None) -> None:
        super().__init__(recipe, backbone, info, tracking_uri)
        self.automatic_optimization = False
        self.groups_steps = False  # two optimisers stepped in turn on each batch
        params = section(recipe.task, GenerationParams)
        self.smoothing = params.label_smoothing
        self.lr_d = params.lr_discriminator or recipe.optim.lr
        self.samples_per_class = params.samples_per_class
        self.sample_every = params.sample_every
        self.loss_g = LossMeter()
        self.loss_d = LossMeter()
        self.classes = len(info.class_names or []) or 1
        # the judge stays outside the module tree: not trained, not saved in checkpoints
        object.__setattr__(self, "judge", None)
        shift, scale = _scaler_tensors(info.preprocessing.get("scaler", {}), info.input_shape)
        self.register_buffer("data_shift", shift, persistent=False)
        self.register_buffer("data_scale", scale, persistent=False)
        self.register_buffer("judge_shift", torch.zeros(()), persistent=False)
        self.register_buffer("judge_scale", torch.ones(()), persistent=False)
        if params.judge:
            self._load_judge(params.judge, tracking_uri or "", info)
        # GAN losses say little about sample quality: test the last generator, unless fidelity picks the best
        self.select_best = recipe.trainer.monitor == m.VAL_CLASS_FIDELITY
        if self.select_best and self.judge is None:
            raise BadInput("trainer.monitor val/class_fidelity needs task.judge (a classifier run id)")
        self._last_grid: np.ndarray | None = None
        self.fidelity_per_class: list[float] = []

    def _load_judge(self, ref: str, uri: str, info: DataInfo) -> None:
        judge = load_trained(ref, uri, field="task.judge")
        if judge.info.task != "classification":
            raise BadInput(f"task.judge: {ref} is a {judge.info.task} model; it must be a classifier")
        if tuple(judge.info.input_shape) != tuple(info.input_shape):
            raise BadInput(
                f"task.judge: {ref} reads inputs of shape {judge.info.input_shape}, the GAN makes {info.input_shape}"
            )
        if judge.info.class_names != info.class_names:
            raise BadInput(f"task.judge: {ref} knows classes {judge.info.class_names}, the data has {info.class_names}")
        for p in judge.backbone.parameters():
            p.requires_grad = False
        object.__setattr__(self, "judge", judge.backbone)
        shift, scale = _scaler_tensors(judge.info.preprocessing.get("scaler", {}), info.input_shape)
        self.judge_shift, self.judge_scale = shift, scale

    def infer(self, batch: Any) -> torch.Tensor:
        """Serving a GAN means generating: one sample per label of the batch."""
        gan: Any = self.backbone
        return gan.generate(batch[1])  # type: ignore[no-any-return]

    # --- training -----------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        o = self.recipe.optim
        gan: Any = self.backbone
        return (
            make_optimizer(gan.generator.parameters(), o, o.lr),
            make_optimizer(gan.discriminator.parameters(), o, self.lr_d),
        )

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gan: Any = self.backbone
        d_real, d_fake = gan(real, y), gan(fake, y)
        return F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 1.0 - self.smoothing)) + (
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:  # type: ignore[override]
        x, y = batch
        gan: Any = self.backbone
        optimizers: Any = self.optimizers()
        opt_g, opt_d = optimizers
        fake = gan.generate(y)
        loss_d = self._d_loss(x, fake.detach(), y)
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        d_fake = gan(fake, y)
        loss_g = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.loss_g.update(loss_g, len(x))
        self.loss_d.update(loss_d, len(x))
        self.train_loss.update(loss_g + loss_d, len(x))
        return loss_g.detach()

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        values = {
            m.TRAIN_LOSS: self.train_loss.compute_and_reset(),
            m.TRAIN_LOSS_G: self.loss_g.compute_and_reset(),
            m.TRAIN_LOSS_D: self.loss_d.compute_and_reset(),
            m.VAL_LOSS: self.val_loss.compute_and_reset(),
        }
        if self.judge is not None:
            values[m.VAL_CLASS_FIDELITY] = self.class_fidelity(min(self.samples_per_class, 20), seed=0)[0]
        self.log_epoch(values)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        gan: Any = self.backbone
        self.val_loss.update(self._d_loss(x, gan.generate(y), y), len(x))

    # --- sampling and fidelity ----------------------------------------------------------

    @torch.no_grad()
    def sample(self, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`per_class` samples of every class, in the data's scaled units, and their labels."""
        gan: Any = self.backbone
        was_training = gan.training
        gan.eval()
        labels = torch.arange(self.classes, device=self.device).repeat_interleave(per_class)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        samples = gan.generate(labels, generator=gen)
        gan.train(was_training)
        return samples, labels

    def to_raw(self, samples: torch.Tensor) -> torch.Tensor:
        return samples * self.data_scale + self.data_shift

    @torch.no_grad()
    def class_fidelity(self, per_class: int, seed: int) -> tuple[torch.Tensor, list[float]]:
        """Share of samples the judge assigns to the requested class; overall and per class."""
        assert self.judge is not None
        samples, labels = self.sample(per_class, seed)
        judged = (self.to_raw(samples) - self.judge_shift) / self.judge_scale
        self.judge.to(self.device).eval()
        hit = (self.judge(judged).argmax(dim=1) == labels).float()
        return hit.mean(), hit.view(self.classes, per_class).mean(dim=1).tolist()

    def epoch_artifacts(self, epoch: int, folder: Path) -> list[Path]:
        """A grid of samples every `sample_every` epochs (logged under samples/)."""
        if (epoch + 1) % self.sample_every:
            return []
        return [self._grid(folder / f"epoch_{epoch + 1:04d}.png", f"epoch {epoch + 1}")]

    def _grid(self, path: Path, title: str) -> Path:
        samples, _ = self.sample(8, seed=1)
        images = self.to_raw(samples).float().cpu().numpy()
        low, high = images.min(), images.max()
        images = (images - low) / (high - low + 1e-8)
        return reports.sample_grid(images, self.classes, path, title, self.info.class_names)

    # --- test ---------------------------------------------------------------------------

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        gan: Any = self.backbone
        self.test_loss.update(self._d_loss(x, gan.generate(y), y), len(x))

    def on_test_epoch_end(self) -> None:
        values = {m.TEST_LOSS: self.test_loss.compute_and_reset()}
        if self.judge is not None:
            overall, self.fidelity_per_class = self.class_fidelity(self.samples_per_class, seed=2)
            values[m.TEST_CLASS_FIDELITY] = overall
        self.log_epoch(values, prog_bar=False)

    def write_reports(self, folder: Path, test_index: np.ndarray) -> None:
        import pandas as pd

        self._grid(folder / "samples.png", "generated samples")
        if self.fidelity_per_class:
            pd.DataFrame({"class": self.info.class_names, "class_fidelity": self.fidelity_per_class}).to_csv(
                folder / "class_fidelity.csv", index=False
            )
