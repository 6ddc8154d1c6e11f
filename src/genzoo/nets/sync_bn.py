"""Batch norm over the global batch of a distributed run (``train.sync_bn``), on any backend."""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn


class _AllReduceSum(torch.autograd.Function):
    """The sum over ranks, differentiable: its backward sums the upstream gradients over ranks too."""

    @staticmethod
    def forward(ctx, x):
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        dist.all_reduce(g)
        return g


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training-mode statistics are those of the global batch across all ranks (two
    autograd-aware all_reduces: the sum, then the sum of squared deviations, so the variance is computed
    as one process computes it). torch's own SyncBatchNorm needs CUDA tensors; this one also runs on
    gloo/CPU. Outside training mode, or in a single process, it is plain batch norm."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        n_local = torch.tensor([xf.numel() / xf.shape[1]], dtype=torch.float64, device=x.device)
        dist.all_reduce(n_local)
        n = float(n_local.item())
        mean = _AllReduceSum.apply(xf.sum(dims)) / n
        d = xf - mean.view(shape)
        var = _AllReduceSum.apply((d * d).sum(dims)) / n
        y = d * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * (n / max(n - 1, 1))
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        return y.to(x.dtype)


def convert_sync_bn(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm1d/2d in ``module`` becomes a synchronised one holding the same parameters and buffers
    (so optimizers and checkpoints are unchanged): torch's SyncBatchNorm on CUDA, ``SyncBatchNorm`` above
    elsewhere."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)) and not isinstance(child, SyncBatchNorm):
            new = SyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_sync_bn(child, device)
    return module
