"""Data-parallel training under ``torchrun``: the process group, gradient averaging, shards for evaluation.

``torchrun`` (or ``genzoo train --nproc N``) starts one process per device and sets RANK, WORLD_SIZE and
LOCAL_RANK; ``setup`` joins them into one process group (nccl on CUDA, gloo on the CPU). Without those
variables, or with WORLD_SIZE=1, everything here is a no-op and genzoo trains as one process.

Gradients are averaged explicitly: every optimizer step of every algo goes through ``Algo.optimize``, which
calls ``reduce_gradients`` between the backward and the step (before fp16's gradient scaler unscales and looks
for infinities, so every rank takes the same decision): one flat all_reduce of the parameters' gradients in a
fixed order. This is what DistributedDataParallel computes, without wrapping the nets: the algos call D
through ``D.scores`` and heads, run G under ``no_grad`` in D's step and D in G's step (whose D gradients are
never used), and take the WGAN-GP penalty's double backward; none of that needs DDP's forward bookkeeping, and each optimizer's gradients are
reduced exactly once per step, whatever the algo did before. See docs/distributed.md.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from genzoo.errors import GenzooError


@dataclass
class Dist:
    """This process's place in the job. ``world == 1``: not distributed, every method is a no-op."""
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device | None = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def mean_scalars(self, scalars: dict, *flags: bool) -> tuple[dict, tuple[bool, ...]]:
        """Every rank's scalars averaged (every rank logs the same keys in the same order) and each of
        ``flags`` or-ed over the ranks, in one all_reduce."""
        if not self.active:
            return scalars, flags
        keys = list(scalars)
        t = torch.tensor([float(scalars[k]) for k in keys] + [float(f) for f in flags], dtype=torch.float64)
        dist.all_reduce(t)
        values = (t[:len(keys)] / self.world).tolist()
        return dict(zip(keys, values)), tuple(bool(v > 0) for v in t[len(keys):].tolist())

    def broadcast(self, obj, src: int = 0):
        """Rank ``src``'s object on every rank (a decision: alerts, an error message)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def on_main(self, fn, *args, **kwargs):
        """Run ``fn`` on rank 0 only (file writes); a GenzooError there is raised on every rank."""
        err = None
        if self.is_main:
            try:
                fn(*args, **kwargs)
            except GenzooError as e:
                err = str(e)
        err = self.broadcast(err)
        if err is not None:
            raise GenzooError(err)

    def agree(self, fn, *args, **kwargs):
        """Run ``fn`` on every rank; if it raises a GenzooError on any rank, raise rank 0's (or the first
        failing rank's) message on every rank, so no rank waits in a collective for one that left."""
        result, err = None, None
        try:
            result = fn(*args, **kwargs)
        except GenzooError as e:
            err = str(e)
        if self.active:
            errs = [None] * self.world
            dist.all_gather_object(errs, err)
            err = next((e for e in errs if e is not None), None)
        if err is not None:
            raise GenzooError(err)
        return result

    def sync_buffers(self, nets) -> None:
        """Rank 0's buffers (batch-norm running statistics, kept per rank) on every rank."""
        if self.active:
            for net in nets:
                for b in net.buffers():
                    dist.broadcast(b, 0)

    def check_same_weights(self, nets) -> None:
        """Every rank holds rank 0's weights (a cheap checksum, compared before each checkpoint)."""
        if not self.active:
            return
        params = [p.detach().float() for net in nets for p in net.parameters()]
        if not params:
            return
        s = torch.stack([p.sum() for p in params]).to(torch.float64)
        ref = s.clone()
        dist.broadcast(ref, 0)
        bad = torch.tensor([float(not torch.equal(s, ref))], device=s.device)
        dist.all_reduce(bad)
        if bad.item():
            raise GenzooError("the ranks' weights differ; this is a bug in genzoo's distributed training "
                              "(please report it with the command line); earlier checkpoints are intact")

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    # -- sharded work (evaluation, sampling): each rank takes a contiguous share of n rows ------------------
    def shard(self, n: int) -> slice:
        """This rank's contiguous share of n rows (the first ``n % world`` ranks get one more)."""
        return shard(n, self.rank, self.world)

    def gather_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's rows (dim 0), concatenated in rank order, on every rank (on x's device). The shares may
        differ in length by one: each is padded to the longest for the all_gather and cut back after."""
        if not self.active:
            return x
        comm = self.device if self.device is not None and self.device.type == "cuda" else torch.device("cpu")
        sizes = torch.tensor([len(x)], dtype=torch.int64, device=comm)
        every = [torch.zeros_like(sizes) for _ in range(self.world)]
        dist.all_gather(every, sizes)
        lengths = [int(s.item()) for s in every]
        longest = max(lengths)
        padded = torch.zeros((longest, *x.shape[1:]), dtype=x.dtype, device=comm)
        padded[:len(x)] = x.to(comm)
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        return torch.cat([p[:k] for p, k in zip(parts, lengths)]).to(x.device)

    def map_rows(self, fn, x: torch.Tensor) -> torch.Tensor:
        """``fn`` of this rank's share of x's rows, gathered: fn(x) for row-wise fn, computed by all ranks."""
        if not self.active or len(x) < self.world:  # too few rows to give every rank one: each does all
            return fn(x)
        return self.gather_rows(fn(x[self.shard(len(x))]))

    def main_result(self, fn, *args, **kwargs):
        """``fn`` run on rank 0 alone (metrics, file writes); its result is returned on every rank. If it fails
        there, the other ranks raise one line instead of waiting in a collective."""
        if not self.active:
            return fn(*args, **kwargs)
        box, failure = [None, None], None
        if self.is_main:
            try:
                box[0] = fn(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - re-raised below, after telling the other ranks
                failure = e
                box[1] = str(e) if isinstance(e, GenzooError) else f"rank 0 failed ({type(e).__name__}: {e})"
        dist.broadcast_object_list(box, src=0)
        if failure is not None:
            raise failure
        if box[1] is not None:
            raise GenzooError(box[1])
        return box[0]


def world_size_from_env() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError:
        return 1


def timeout_s() -> float:
    try:
        return float(os.environ.get("GENZOO_DIST_TIMEOUT", "300"))
    except ValueError:
        return 300.0


@contextmanager
def _quiet_native_stderr():
    """File descriptor 2 into a temporary file while joining: what the C++ side wrote reaches stderr only if the
    join succeeded (its warnings); a failed join is the one line ``setup`` raises."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if ok:
                tmp.seek(0)
                text = tmp.read()
                if text:
                    os.write(2, text)


def setup(device_name: str) -> Dist:
    """Join the job torchrun started, or return a single-process Dist when there is none."""
    from genzoo.algos.base import resolve_device

    world = world_size_from_env()
    if world <= 1:
        return Dist()
    rank, local = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))
    device = resolve_device(device_name)
    if device.type == "cuda":
        count = torch.cuda.device_count()
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        if local_world > count:
            raise GenzooError(f"{local_world} processes on this node but only {count} CUDA GPU(s); "
                              f"use --nproc_per_node {count} (or --nproc {count})")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise GenzooError("distributed training supports cuda (nccl) and cpu (gloo), not mps")
    if not dist.is_initialized():
        try:
            with _quiet_native_stderr():  # c10d logs a C++ stack trace per failed connect before raising
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                        timeout=timedelta(seconds=timeout_s()))
        except (RuntimeError, ValueError) as e:
            raise GenzooError(f"rank {rank} could not join the process group at "
                              f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} "
                              f"({str(e).splitlines()[0][:160]})") from None
    if device.type == "cpu" and "GENZOO_KEEP_THREADS" not in os.environ:
        per = max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world)))
        torch.set_num_threads(min(torch.get_num_threads(), per))
    return Dist(rank, world, local, device)


def shard(n: int, rank: int, world: int) -> slice:
    """Rows [start, stop) of rank ``rank`` when n rows are split into ``world`` contiguous shares."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


@contextmanager
def joined(device_name: str | None = "auto"):
    """The job torchrun started, for a command other than training (evaluate, sample): joined on entry when
    WORLD_SIZE > 1 and not yet joined, left on exit if joined here. Yields the Dist (world 1 otherwise)."""
    if world_size_from_env() <= 1:
        yield Dist()
        return
    was = dist.is_initialized()
    d = setup(device_name or "auto")
    try:
        yield d
    finally:
        if not was:
            d.close()


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a process not started by torchrun."""
    return os.environ.get("RANK", "0") in ("", "0")


def check_batch(batch_size: int, world: int, pack: int = 1) -> int:
    """train.batch_size is the global batch; each rank takes batch_size / world of it."""
    if batch_size % world:
        raise GenzooError(f"train.batch_size={batch_size} is not divisible by the world size {world}: it is the "
                          f"global batch, split evenly across ranks; use a multiple of {world}, e.g. "
                          f"{(batch_size // world + 1) * world}")
    local = batch_size // world
    if pack > 1 and local % pack:
        raise GenzooError(f"each of the {world} ranks gets {local} samples, not a multiple of model.pack={pack}; "
                          f"use a batch size that is a multiple of {world * pack}")
    return local


def reduce_gradients(opt: torch.optim.Optimizer, world: int) -> None:
    """Average ``opt``'s parameters' gradients over the ranks (``Algo.optimize`` calls this before each step
    under torchrun): one flat all_reduce per dtype, parameters in the optimizer's own order, None gradients
    left None (the same on every rank, since every rank runs the same graph)."""
    params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
    by_dtype: dict = {}
    for p in params:
        by_dtype.setdefault((p.grad.dtype, p.grad.device), []).append(p)
    for group in by_dtype.values():
        flat = torch.cat([p.grad.reshape(-1) for p in group])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for p in group:
            n = p.grad.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n


__all__ = ["Dist", "setup", "joined", "shard", "is_main_process", "check_batch", "reduce_gradients"]
