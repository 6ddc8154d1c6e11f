"""Each rank's own random stream for the draws inside the nets (dropout) under torchrun; see docs/distributed.md.

The shared generator, seeded alike on every rank, draws the global batch's latents and noise; each rank takes
its shard. Dropout must not draw from it: the ranks' masks would be correlated and a rank-0-only forward pass
(a sample grid with dropout on) would put the ranks' shared generators out of step.
"""
from __future__ import annotations

import torch

from genzoo.training.distributed import Dist


class RankRNG:
    """A random stream of this rank's own, seeded by (train.seed, rank), for the draws inside the nets: every
    dropout module's forward runs with it in place of the global generator (swapped in by a pre-hook, swapped
    out by a hook), so the ranks' masks are independent while the shared generator, from which every rank
    draws the global batch's latents and noise, is never moved by a net. Its state travels in the checkpoint
    (``rng.dropout``, one row per rank), so a resume with the same world size continues every rank's stream.
    Used only when WORLD_SIZE > 1: one process keeps drawing dropout from the global generator as before."""

    DROPOUT = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d, torch.nn.AlphaDropout)

    def __init__(self, seed: int, rank: int):
        import numpy as np

        self.seed = int(np.random.SeedSequence([int(seed), int(rank), 0x6E7A]).generate_state(1, np.uint64)[0] >> 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.cpu = torch.get_rng_state()
        self.cuda: dict = {}   # device index -> state, made on first use
        self._saved: list = []

    def attach(self, nets) -> int:
        """Hook every dropout module of ``nets``; returns how many."""
        count = 0
        for net in nets:
            for m in net.modules():
                if isinstance(m, self.DROPOUT):
                    m.register_forward_pre_hook(self._enter)
                    m.register_forward_hook(self._leave)
                    count += 1
        return count

    def _enter(self, module, args):
        x = args[0] if args else None
        if x is not None and x.is_cuda:
            i = x.device.index
            saved = torch.cuda.get_rng_state(i)
            if i not in self.cuda:
                torch.cuda.manual_seed(self.seed)  # the current device is x's (set_device in setup)
                self.cuda[i] = torch.cuda.get_rng_state(i)
            torch.cuda.set_rng_state(self.cuda[i], i)
            self._saved.append(("cuda", i, saved))
        else:
            self._saved.append(("cpu", None, torch.get_rng_state()))
            torch.set_rng_state(self.cpu)

    def _leave(self, module, args, output):
        kind, i, saved = self._saved.pop()
        if kind == "cuda":
            self.cuda[i] = torch.cuda.get_rng_state(i)
            torch.cuda.set_rng_state(saved, i)
        else:
            self.cpu = torch.get_rng_state()
            torch.set_rng_state(saved)

    def gathered(self, d: Dist) -> torch.Tensor:
        """Every rank's CPU stream state, (world, state bytes) uint8, on every rank (for rank 0's checkpoint)."""
        return d.gather_rows(self.cpu.unsqueeze(0))

    def load(self, states, d: Dist) -> bool:
        """This rank's stream from a checkpoint's ``rng.dropout``; False (the stream stays freshly seeded)
        when the checkpoint has none or was written by another world size."""
        if not torch.is_tensor(states) or states.dim() != 2 or states.shape[0] != d.world \
                or states.shape[1] != self.cpu.numel() or states.dtype != torch.uint8:
            return False
        self.cpu = states[d.rank].clone()
        return True
