"""Per-batch training augmentation in torch, on whatever device the batch lives on.

The random draws (crop offsets, flip bits) come from a CPU ``torch.Generator`` seeded from
(seed, round, client), so a client-round redone after ``--resume`` sees exactly the same images,
and a GPU run draws the same numbers as a CPU run. Only the gather runs on the batch's device.

Registry ``AUGMENTATIONS``: a data set names the augmentation it takes (``DatasetSpec.augmentation``);
a data set that names none cannot be augmented (flipping a digit changes its class).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CropFlipParams:
    """One batch's draws: top-left corner of each crop in the padded image, and which images flip."""

    top: torch.Tensor  # int64 (N,), 0..2*pad
    left: torch.Tensor  # int64 (N,), 0..2*pad
    flip: torch.Tensor  # bool (N,)


@dataclass(frozen=True)
class CropFlip:
    """Random crop after zero padding by ``pad`` pixels, then a horizontal flip with probability 1/2.

    The standard CIFAR recipe (He et al. 2016). Images are already normalised, so the zero padding
    is the training set's mean colour, as when augmentation runs after normalisation on a GPU.
    """

    name: str
    pad: int = 4
    flip_p: float = 0.5

    def draw(self, n: int, gen: torch.Generator) -> CropFlipParams:
        """The random parameters of an n-image batch (always drawn on the CPU generator)."""
        top = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen)
        left = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen)
        flip = torch.rand(n, generator=gen) < self.flip_p
        return CropFlipParams(top, left, flip)

    def apply(self, x: torch.Tensor, p: CropFlipParams) -> torch.Tensor:
        """Crop and flip an (N, C, H, W) batch with given draws: one gather on x's device."""
        n, c, h, w = x.shape
        dev = x.device
        padded = F.pad(x, (self.pad, self.pad, self.pad, self.pad))
        rows = p.top.to(dev)[:, None] + torch.arange(h, device=dev)[None, :]  # (N, H)
        ar = torch.arange(w, device=dev)[None, :]
        cols = p.left.to(dev)[:, None] + torch.where(p.flip.to(dev)[:, None], w - 1 - ar, ar)  # (N, W)
        ni = torch.arange(n, device=dev)[:, None, None, None]
        ci = torch.arange(c, device=dev)[None, :, None, None]
        return padded[ni, ci, rows[:, None, :, None], cols[:, None, None, :]]

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A freshly augmented copy of the batch."""
        return self.apply(x, self.draw(int(x.shape[0]), gen))


AUGMENTATIONS: dict[str, CropFlip] = {a.name: a for a in (CropFlip("crop4-flip", pad=4),)}


def augment_seed(seed: int, rnd: int, client_id: int) -> int:
    """Seed of one client-round's augmentation generator (independent of the shuffling and init seeds)."""
    return int(np.random.default_rng([int(seed), int(rnd), int(client_id), 0xA06]).integers(2**62))


def augment_generator(seed: int, rnd: int, client_id: int) -> torch.Generator:
    """A CPU generator of its own, so augmentation never shifts torch's global random stream."""
    return torch.Generator().manual_seed(augment_seed(seed, rnd, client_id))


__all__ = ["AUGMENTATIONS", "CropFlip", "CropFlipParams", "augment_generator", "augment_seed"]
