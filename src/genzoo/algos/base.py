"""What every algo shares: devices, mixed precision, EMA and state for checkpoints."""
from __future__ import annotations

import contextlib
import copy
import os

import torch
import torch.nn as nn


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda where there is one, else cpu. A device that is not there is a one-line error."""
    from genzoo.errors import GenzooError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise GenzooError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise GenzooError(f"device '{name}' is not available: this torch sees no CUDA GPU "
                              f"(torch {torch.__version__}); use --device cpu or auto")
        if dev.index is not None and dev.index >= count:
            raise GenzooError(f"device '{name}' is not available: this machine has {count} CUDA GPU(s), "
                              f"cuda:0..cuda:{count - 1}")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise GenzooError(f"device '{name}' is not available (no Apple GPU); use --device cpu or auto")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise GenzooError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps")
    return dev


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:  # native bf16 on the CPU (AVX512-BF16 or AMX); emulated bf16 would be slower than fp32
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device, conv: bool = True) -> str:
    """'auto' -> bf16 for conv nets where the hardware has native bf16, fp16 (with gradient scalers) on CUDA
    GPUs without it, fp32 otherwise. Small MLPs (toy data) stay in fp32: there the casts cost more than the
    matmuls save (benchmarks/throughput.py).
    GENZOO_PRECISION=fp32|bf16|fp16 overrides what 'auto' picks (the test suite pins fp32 with it, so
    results do not depend on whether this CPU has native bf16)."""
    if name == "auto":
        forced = os.environ.get("GENZOO_PRECISION", "").strip().lower()
        if forced in ("fp32", "bf16", "fp16"):
            return forced
        if not conv:
            return "fp32"
        if bf16_supported(device):
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    return name


def grad_norm(net: nn.Module) -> float:
    """The L2 norm of all of a network's gradients together (one fused kernel per dtype)."""
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).item()


def weights_finite(nets) -> bool:
    params = [p for net in nets for p in net.parameters()]
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(params))).all()) if params else True


@contextlib.contextmanager
def frozen(net: nn.Module | None):
    """``net``'s parameters take no gradient inside the block (its input still does): G's step needs only D's
    input gradient, and skipping D's weight gradients saves a third of D's backward."""
    trained = [p for p in net.parameters() if p.requires_grad] if net is not None else []
    for p in trained:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in trained:
            p.requires_grad_(True)


class Algo:
    """Base class: subclasses fill ``self.nets`` and ``self.opts`` (name -> module / optimizer)."""

    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]

    def __init__(self, device: torch.device, precision: str):
        self.device, self.precision = device, precision
        self.channels_last = False
        self.rank, self.world = 0, 1  # set by the training loop under torchrun (genzoo.training.distributed)
        self.reduce_grads = None      # under torchrun: averages an optimizer's gradients over the ranks
        self.scalers: dict[str, torch.amp.GradScaler] = {}  # fp16: one gradient scaler per optimizer
        self.fp16_skips = 0           # optimizer steps the scalers skipped (their gradients overflowed fp16)
        self.lr_half_life = 0         # steps over which the learning rates halve (start_lr_schedule); 0 = constant
        self.lr_drop_at, self.lr_drop = 0, 0.1  # after this many steps the rates are multiplied by lr_drop; 0 = never
        self.lr_scale = 1.0           # what watcher rollbacks multiplied the scheduled rates by (saved with the state)

    def scaler(self, name: str) -> torch.amp.GradScaler | None:
        """fp16's gradient scaler of optimizer ``name`` (made on first use), None in other precisions. Each
        optimizer has its own: G's and D's losses differ in size, and one skipped step must not skip the other."""
        if self.precision != "fp16":
            return None
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type)
        return self.scalers[name]

    def optimize(self, name: str, loss: torch.Tensor, probe: nn.Module | None = None) -> float | None:
        """One step of optimizer ``name`` on ``loss``, the one way every algo updates its weights: zero the
        gradients, backward (fp16: of the loss times the scaler's factor), average them over the ranks under
        torchrun, unscale (fp16), step (fp16: skipped when a gradient is inf or nan, and the factor lowered).
        Returns the L2 norm of ``probe``'s gradients as they enter the step, when ``probe`` is given."""
        opt, scaler = self.opts[name], self.scaler(name)
        opt.zero_grad(set_to_none=True)
        (loss if scaler is None else scaler.scale(loss)).backward()
        if self.reduce_grads is not None:  # before the scaler's inf check, so every rank decides alike
            self.reduce_grads(opt)
        if scaler is not None:
            scaler.unscale_(opt)
        norm = grad_norm(probe) if probe is not None else None
        if scaler is None:
            opt.step()
        else:
            factor = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            self.fp16_skips += scaler.get_scale() < factor  # the factor drops exactly when the step was skipped
        return norm

    def start_lr_schedule(self, half_life: int, drop_at: int = 0, drop: float = 0.1) -> None:
        """Remember every optimizer's initial learning rates, for ``schedule_lr``: they halve every ``half_life``
        steps (0: no decay) and are multiplied by ``drop`` once ``drop_at`` steps are done (0: no drop)."""
        self.lr_half_life, self.lr_drop_at, self.lr_drop = half_life, drop_at, drop
        self.lr0 = {k: [g["lr"] for g in o.param_groups] for k, o in self.opts.items()}

    @property
    def lr_scheduled(self) -> bool:
        """Whether the learning rates follow a schedule (set by ``schedule_lr`` before every step)."""
        return bool(self.lr_half_life or self.lr_drop_at)

    @property
    def schedule_step(self) -> int:
        """The step ``schedule_lr`` is called with before the next update (algos with a schedule define it)."""
        raise NotImplementedError(f"{type(self).__name__} has no learning-rate schedule")

    def schedule_lr(self, step: int) -> None:
        """Every learning rate at its initial value times 0.5 ** (step / half-life), times the drop factor from
        step ``lr_drop_at`` on, times ``lr_scale``: a function of the step alone, so a resumed run gets the same
        rates (an optimizer's state would restore the rates of the step it was saved at)."""
        if not self.lr_scheduled:
            return
        factor = (0.5 ** (step / self.lr_half_life) if self.lr_half_life else 1.0) * self.lr_scale
        if self.lr_drop_at and step >= self.lr_drop_at:
            factor *= self.lr_drop
        for k, o in self.opts.items():
            for g, lr0 in zip(o.param_groups, self.lr0[k]):
                g["lr"] = lr0 * factor

    def loss_scale(self, name: str) -> float:
        """The factor fp16's scaler multiplies optimizer ``name``'s loss by (1 otherwise); the WGAN-GP penalty
        scales its inner gradient by it too, so that gradient does not underflow in fp16."""
        scaler = self.scaler(name)
        return 1.0 if scaler is None else scaler.get_scale()

    def draw_shard(self, draw, n: int, dim: int = 0) -> torch.Tensor:
        """Random numbers that belong to samples, for this rank's ``n`` of them: ``draw(world * n)`` makes them
        for the global batch (every rank the same, from the shared RNG) and this rank keeps its slice along
        ``dim``. So N ranks with B / N samples each draw what one process with B draws, and their RNGs
        stay in step. One process: just ``draw(n)``."""
        if self.world == 1:
            return draw(n)
        return draw(n * self.world).narrow(dim, self.rank * n, n)

    def randn_shard(self, x: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like x (this rank's samples along dim 0), drawn for the global batch."""
        return self.draw_shard(lambda m: torch.randn((m, *x.shape[1:]), device=x.device, dtype=x.dtype),
                               x.shape[0])

    def rand_shard(self, x: torch.Tensor) -> torch.Tensor:
        """Uniform [0, 1) numbers shaped like x (this rank's samples along dim 0), drawn for the global batch."""
        return self.draw_shard(lambda m: torch.rand((m, *x.shape[1:]), device=x.device, dtype=x.dtype),
                               x.shape[0])

    def autocast(self):
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            return torch.autocast(self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def finish_nets(self, channels_last: bool) -> None:
        self.channels_last = channels_last
        for m in self.nets.values():
            m.to(self.device)
            if channels_last:
                m.to(memory_format=torch.channels_last)

    # -- one training step: the loop calls this and nothing else --------------------------------------------
    adversarial: bool = False  # True: trained by d_step / g_step against a discriminator (GAN, pix2pix)

    reuses_fake: bool = False  # d_step(batch, keep_fake=True) leaves G's output in _kept for g_step(batch, fake=)
    _kept = None

    def train_step(self, next_batch, n_critic: int = 1, g_steps: int = 1) -> dict:
        """One training step (``_train_step``); in fp16, ``fp16_skipped`` counts the optimizer steps of it that the
        gradient scalers skipped, whose losses may be inf without the run diverging."""
        skips = self.fp16_skips
        scalars = self._train_step(next_batch, n_critic, g_steps)
        if self.fp16_skips > skips and min(s.get_scale() for s in self.scalers.values()) >= 1.0:
            # below a factor of 1 the gradients overflow unscaled: that is divergence, and reported as such
            scalars["fp16_skipped"] = self.fp16_skips - skips
        return scalars

    def _train_step(self, next_batch, n_critic: int = 1, g_steps: int = 1) -> dict:
        """Adversarial algos: ``n_critic`` D steps, each on a fresh batch, then ``g_steps`` G steps (Goodfellow et
        al. 2014, Alg. 1: k D steps per G step; carpedm20's DCGAN code, which PacGAN's Stacked MNIST runs use,
        takes two G steps so that D's loss does not go to 0). With ``reuses_fake`` the first G step trains on
        the last D step's batch and on the output G made for it, so one G forward serves both steps (as
        pytorch/examples' DCGAN and the pix2pix authors' code do); otherwise on a fresh batch. Further G steps
        take the same batch and fresh latents. Others: their one ``step``. Returns the logged scalars (of the
        last G step)."""
        if not self.adversarial:
            return self.step(next_batch())
        for i in range(n_critic):
            batch = next_batch()
            scalars = self.d_step(batch, keep_fake=True) if self.reuses_fake and i == n_critic - 1 \
                else self.d_step(batch)
        if self.reuses_fake:
            fake, self._kept = self._kept, None
        else:
            batch, fake = next_batch(), None
        for _ in range(g_steps):
            g_scalars = self.g_step(batch) if fake is None else self.g_step(batch, fake=fake)
            fake = None
        return scalars | g_scalars

    def batches_per_step(self, n_critic: int) -> int:
        """Batches one ``train_step`` consumes for D (the images/s the log reports count these)."""
        return n_critic if self.adversarial else 1

    # -- the fixed inputs rendered into the training grids (GANs, VAEs: prior draws; pix2pix: fixed pairs) --
    preview_nrow: int | None = None

    def preview_inputs(self, data, n: int, generator: torch.Generator):
        return self.sample_z(n if data.is_image else 1000, generator)

    def preview(self, inputs) -> torch.Tensor:
        return self.generate(inputs)

    def state_dict(self) -> dict:
        state = {"nets": {k: m.state_dict() for k, m in self.nets.items()},
                 "opts": {k: o.state_dict() for k, o in self.opts.items()}, "lr_scale": self.lr_scale}
        if self.precision == "fp16":  # the loss scale and its growth counter, so a resumed run steps the same
            state["scalers"] = {k: self.scaler(k).state_dict() for k in self.opts}
        return state

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.opts.items():
            o.load_state_dict(state["opts"][k])
            match_param_layout(o)
        self.lr_scale = float(state.get("lr_scale", 1.0))  # absent: saved before rollbacks scaled schedules
        for k, s in state.get("scalers", {}).items():  # absent: saved in another precision, fresh scalers
            if k in self.opts and self.scaler(k) is not None:
                self.scaler(k).load_state_dict(s)


def match_param_layout(opt: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor (Adam's moments) its parameter's memory layout again: a
    checkpoint stores them contiguous, while conv weights are channels_last, and the fused Adam kernel walks
    parameter and moments in memory order, so mismatched layouts would pair the wrong elements."""
    for group in opt.param_groups:
        for p in group["params"]:
            for name, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][name] = torch.empty_like(p, dtype=v.dtype).copy_(v)


class EMA:
    """Exponential moving average of a network's weights, for sampling (Yazici et al. 2019).

    Batch-norm population statistics are not copied from the live net: the averaged weights give other
    activations, so ``refresh`` recomputes the statistics of the averaged net itself before it samples or is
    saved, from ``BN_BATCHES`` batches of latents drawn with a fixed seed (the training RNG is untouched, and a
    resumed run gets the same statistics). Other buffers (spectral norm's vectors) follow the live net."""

    BN_BATCHES = 16

    def __init__(self, net: nn.Module, decay: float):
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.norms = [m for m in self.net.modules()
                      if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        owned = {id(b) for m in self.norms for b in m.buffers(recurse=False)}
        self.followed = {i for i, b in enumerate(self.net.buffers()) if id(b) not in owned}  # copied each update
        self.stale = bool(self.norms)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        for pe, p in zip(self.net.parameters(), net.parameters()):
            pe.lerp_(p, 1.0 - self.decay)
        if self.followed:
            live = list(net.buffers())
            for i, be in enumerate(self.net.buffers()):
                if i in self.followed:
                    be.copy_(live[i])
        self.stale = bool(self.norms)

    @torch.no_grad()
    def refresh(self, draw) -> None:
        """When the weights moved since the last call: the averaged net's batch-norm statistics from its own
        activations on ``BN_BATCHES`` batches of latents ``draw(generator)``, each batch weighing the same
        (batch norm's cumulative average, momentum None)."""
        if not self.stale:
            return
        momenta = [m.momentum for m in self.norms]
        for m in self.norms:
            m.reset_running_stats()
            m.momentum = None
        self.net.train()
        g = torch.Generator().manual_seed(0)
        for _ in range(self.BN_BATCHES):
            self.net(draw(g))
        self.net.eval()
        for m, momentum in zip(self.norms, momenta):
            m.momentum = momentum
        self.stale = False
