"""History of generated images for the discriminators (Shrivastava et al., as CycleGAN uses it).

A critic that only sees the newest fakes chases the generator around; feeding
it a mix of new and older fakes steadies training. Randomness comes from the
caller's per-step numpy generator so a resumed run draws the same choices.
"""

from __future__ import annotations

import numpy as np
import torch


class ImagePool:
    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Return a batch as large as `images`: each slot is the new image or, half
        the time once the pool is full, a stored one (which the new image replaces)."""
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif rng.random() < 0.5:
                i = int(rng.integers(self.size))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state(self) -> torch.Tensor | None:
        """All stored images as one (n, C, H, W) tensor, or None when empty."""
        return torch.cat(self.images, 0).cpu() if self.images else None

    def load(self, stacked: torch.Tensor | None, device: torch.device | str = "cpu") -> None:
        self.images = [] if stacked is None else [t.unsqueeze(0).to(device) for t in stacked]
