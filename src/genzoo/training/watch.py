"""Training diagnostics: watchers that run inside the loop and raise named alerts.

Signals (logged to ``log.jsonl`` at probe steps):
  every step       loss_d, loss_g, d_real, d_fake (already in the algo's scalars), NaN/Inf check
  every ``every``  acc_real, acc_fake (D's accuracy), grad_norm_g, grad_norm_d, weights finite,
                   osc (loss oscillation: spread of block means over ``osc_window`` in units of noise)
  every ``diversity_every``  on a fixed noise batch: diversity (mean pairwise distance of the
                   samples over that of real data), dup_fraction (near-duplicates), and
                   class_entropy (normalised entropy of the evaluation classifier's class histogram;
                   for 2-D mixtures, of the nearest-mode histogram)

Alerts have stable names; each fires when its condition has held for ``window`` steps (divergence
fires at once) and fires again only after the condition has cleared:
  d_saturated           D separates real from fake perfectly and confidently
  vanishing_g_gradient  G's gradient has collapsed (saturating loss with D(G(z)) ~ 0, or |grad G|
                        below 1/1000 of its peak)
  mode_collapse         the fixed batch covers few classes/modes, or is mostly near-duplicates
  divergence            a loss or weight is NaN/Inf, or a loss exceeds ``loss_limit`` (x1000 for
                        the unbounded scores of WGAN critics)
  oscillation           the smoothed losses swing back and forth far beyond their noise

What an alert does is configurable per name (``watch.<name>``): warn, stop or rollback.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch

from genzoo.algos.base import weights_finite
from genzoo.config import Action, Config
from genzoo.data import Dataset, to_uint8
from genzoo.errors import GenzooError
from genzoo.losses import GANObjective

ALERTS = ("d_saturated", "vanishing_g_gradient", "mode_collapse", "divergence", "oscillation")
ACTIONS = get_args(Action)
ADVICE = {
    "d_saturated": "D wins outright; try a lower D learning rate, fewer D steps, one-sided label smoothing "
                   "or instance noise",
    "vanishing_g_gradient": "try the non-saturating loss or a lower D learning rate",
    "mode_collapse": "try a larger z_dim, lower learning rates, an EMA of G or the wgan-gp recipe",
    "divergence": "lower the learning rates, or set watch.divergence=rollback to restore the last good "
                  "checkpoint with lower rates",
    "oscillation": "the game circles instead of converging; try lower learning rates or TTUR "
                   "(a larger lr_d than lr_g)",
}
OSC_SPREAD, OSC_SWINGS, OSC_REL = 8.0, 4, 0.3   # set on healthy and unstable runs (benchmarks/diagnostics.py)
ENTROPY_MIN, DUP_MAX = 0.7, 0.5                  # mode_collapse: class entropy below / duplicates above


@dataclass
class Alert:
    name: str
    step: int
    evidence: str
    onset: int          # first step at which the condition held (rollback goes to a checkpoint before it)

    @property
    def advice(self) -> str:
        return ADVICE[self.name]

    @property
    def message(self) -> str:
        return f"{self.name} at step {self.step}: {self.evidence}; {self.advice}"

    def event(self, action: str) -> dict:
        return {"step": self.step, "event": "alert", "alert": self.name, "onset": self.onset,
                "evidence": self.evidence, "advice": self.advice, "action": action}


def actions(cfg: Config) -> dict[str, str]:
    """Alert name -> action (the config checked each when it was set)."""
    return {name: getattr(cfg.watch, name) or cfg.watch.action for name in ALERTS}


def oscillation_score(values: np.ndarray) -> tuple[float, int, float]:
    """(spread, swings, rel) of a loss series. The series is smoothed by a moving average over
    1/20 of its length; ``spread`` is the std of the smoothed series in units of the std that
    step-to-step noise alone would leave after smoothing, ``swings`` counts crossings of its mean
    (with a hysteresis band of half its std), ``rel`` is its std relative to the mean |loss|.
    Noise gives spread ~1, a trend gives at most one swing, a cycle gives both many swings and a
    large spread, whatever its phase."""
    values = np.asarray(values, dtype=np.float64)
    w = max(2, len(values) // 20)
    if len(values) < 4 * w:
        return 0.0, 0, 0.0
    smooth = np.convolve(values, np.ones(w) / w, mode="valid")
    noise = np.diff(values).std() / math.sqrt(2) + 1e-12   # white-noise std, insensitive to slow drift
    spread = float(smooth.std() / (noise / math.sqrt(w)))
    c, band = smooth - smooth.mean(), 0.5 * smooth.std()
    state, swings = 0, 0
    for v in c:
        side = 1 if v > band else -1 if v < -band else 0
        if side and side != state:
            swings += state != 0
            state = side
    return spread, swings, float(smooth.std() / (np.abs(values).mean() + 1e-3))


def pairwise_stats(x: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Mean pairwise L2 distance of the rows of x, and each row's distance to its nearest other row."""
    x = x.flatten(1).double()
    d = torch.cdist(x, x)
    n = len(x)
    mean = float(d.sum() / (n * (n - 1)))
    d.fill_diagonal_(float("inf"))
    return mean, d.min(1).values


class Monitor:
    """Watches one training run. ``update`` is called after every step with the step's scalars; it
    adds the watcher signals to them (on probe steps) and returns the alerts raised."""

    def __init__(self, cfg: Config, algo, data: Dataset):
        self.W, self.algo, self.data = cfg.watch, algo, data
        self.actions = actions(cfg)
        self.objective = GANObjective.create(cfg.loss.name, cfg.loss)
        # a critic's scores are unbounded (WGAN-GP on MNIST reaches ~100 early on), so its limit is 1000x
        self.loss_limit = self.W.loss_limit * (1000 if self.objective.row.critic else 1)
        n = self.W.diversity_n if data.is_image else max(self.W.diversity_n, 1000)
        self.z = algo.sample_z(n, torch.Generator().manual_seed(cfg.train.seed + 7))
        ref = data.x[torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.train.seed + 8))[:n]]
        self.real_mean, nn_real = pairwise_stats(ref.float() if not data.is_image else _unit(ref))
        self.real_nn = float(nn_real.median())
        self.centers = data.meta.get("centers") if not data.is_image else None
        self.mode_std = data.meta.get("std")
        self.classifier = _classifier_for(cfg.data.dataset, data) if data.is_image else None
        self.reset()

    def reset(self) -> None:
        """Forget the windows (after a rollback the history no longer describes the weights)."""
        self.since: dict[str, int] = {}
        self.active: set[str] = set()
        self.losses: deque = deque(maxlen=max(self.W.osc_window, 40))
        self.acc = {"d_real": 0.0, "d_fake": 0.0, "loss_d": 0.0, "n": 0}
        self.g_peak = 0.0

    def wants_probe(self, step: int) -> bool:
        return self.W.every > 0 and step % self.W.every == 0

    # -- the per-step entry point -------------------------------------------------------
    def update(self, step: int, scalars: dict) -> list[Alert]:
        ld, lg, lim = scalars.get("loss_d", 0.0), scalars.get("loss_g", 0.0), self.loss_limit
        if not (abs(ld) <= lim and abs(lg) <= lim):  # also true for NaN, which fails every comparison
            bad = [k for k in ("loss_d", "loss_g") if k in scalars and not math.isfinite(scalars[k])]
            what = (f"{', '.join(bad)} is NaN/Inf" if bad else
                    ", ".join(f"|{k}| = {abs(scalars[k]):.3g} > {lim:g}" for k in ("loss_d", "loss_g")
                              if abs(scalars.get(k, 0.0)) > lim))
            return [Alert("divergence", step, what, step)]
        self.losses.append((ld, lg))
        acc = self.acc
        acc["d_real"] += scalars.get("d_real", 0.0)
        acc["d_fake"] += scalars.get("d_fake", 0.0)
        acc["loss_d"] += ld
        acc["n"] += 1
        alerts = []
        if self.wants_probe(step):
            alerts += self._probe(step, scalars)
        if self.W.diversity_every > 0 and step % self.W.diversity_every == 0:
            alerts += self._sample_probe(step, scalars)
        return alerts

    def _hold(self, name: str, cond: bool, step: int, need: int, evidence: str) -> list[Alert]:
        """Raise ``name`` once ``cond`` has held for ``need`` steps; re-arm when it clears."""
        if not cond:
            self.since.pop(name, None)
            self.active.discard(name)
            return []
        start = self.since.setdefault(name, step)
        if step - start >= need and name not in self.active:
            self.active.add(name)
            return [Alert(name, step, evidence.format(steps=step - start), start)]
        return []

    # -- cheap probe: D's outputs and accuracy, gradient norms, weights ------------------
    def _probe(self, step: int, s: dict) -> list[Alert]:
        n = max(self.acc["n"], 1)
        d_real, d_fake, loss_d = (self.acc[k] / n for k in ("d_real", "d_fake", "loss_d"))
        self.acc = {"d_real": 0.0, "d_fake": 0.0, "loss_d": 0.0, "n": 0}
        if not weights_finite(self.algo.nets.values()):
            return [Alert("divergence", step, "a weight of G or D is NaN/Inf", step)]
        alerts = []
        acc_r, acc_f = s.get("acc_real"), s.get("acc_fake")
        gn = s.get("grad_norm_g")
        if acc_r is not None:
            sat, ev = self._saturated(acc_r >= 0.99 and acc_f >= 0.99, d_real, d_fake, loss_d)
            alerts += self._hold("d_saturated", sat, step, self.W.window, ev)
        if gn is not None:
            self.g_peak = max(self.g_peak, gn)
            minimax_dead = self.objective.row.saturating and d_fake < 0.01
            flat = self.g_peak > 0 and gn < 1e-3 * self.g_peak
            ev = (f"D(G(z)) = {d_fake:.3g} < 0.01 for {{steps}} steps, |grad G| = {gn:.2g}" if minimax_dead else
                  f"|grad G| = {gn:.2g} < 1/1000 of its peak {self.g_peak:.2g} for {{steps}} steps")
            alerts += self._hold("vanishing_g_gradient", minimax_dead or flat, step, self.W.window, ev)
        if len(self.losses) >= self.losses.maxlen and step >= self.W.warmup:
            arr = np.asarray(self.losses)
            spread, swings, rel = max(oscillation_score(arr[:, i]) for i in range(2))
            s["osc"], s["osc_rel"] = spread, rel
            cond = spread > OSC_SPREAD and swings >= OSC_SWINGS and rel > OSC_REL
            alerts += self._hold("oscillation", cond, step, self.W.window,
                                 f"the smoothed losses swing {spread:.1f}x beyond their noise "
                                 f"({rel:.0%} of their level), crossing their mean {swings} times in "
                                 f"{len(arr)} steps, for {{steps}} steps")
        return alerts

    def _saturated(self, perfect: bool, d_real: float, d_fake: float, loss_d: float) -> tuple[bool, str]:
        """Whether D wins outright, read the way its objective's outputs read (GANLoss.kind), and the evidence."""
        kind = self.objective.row.kind
        if kind == "probability":
            return (perfect and d_real > 0.95 and d_fake < 0.05,
                    f"D(x) = {d_real:.3f}, D(G(z)) = {d_fake:.3g}, D accuracy 100% for {{steps}} steps")
        if kind == "labels":
            b, a = self.objective.labels
            return (perfect and abs(d_real - b) < 0.1 * abs(b - a) and abs(d_fake - a) < 0.1 * abs(b - a),
                    f"D(x) = {d_real:.3f} ~ b, D(G(z)) = {d_fake:.3f} ~ a, D accuracy 100% for {{steps}} steps")
        if kind == "margin":
            return perfect and loss_d < 0.05, f"margin loss of D = {loss_d:.3g} (every margin met) for {{steps}} steps"
        return False, ""  # a critic's separation is its distance estimate, not a failure

    # -- sample probe: the fixed noise batch ----------------------------------------------
    @torch.no_grad()
    def _sample_probe(self, step: int, s: dict) -> list[Alert]:
        x = self.algo.generate(self.z).cpu()
        if not torch.isfinite(x).all():
            return [Alert("divergence", step, "generated samples contain NaN/Inf", step)]
        pts = _unit(to_uint8(x)) if self.data.is_image else x
        mean, nn = pairwise_stats(pts)
        s["diversity"] = mean / max(self.real_mean, 1e-12)
        evidence, collapsed = [], False
        if self.data.is_image:
            s["dup_fraction"] = float((nn < 0.1 * self.real_nn).double().mean())
            if s["dup_fraction"] > DUP_MAX:
                collapsed = True
                evidence.append(f"{s['dup_fraction']:.0%} of the fixed batch are near-duplicates")
        hist = None
        if self.classifier is not None:
            from genzoo.metrics.features import extract
            hist = np.bincount(extract(self.classifier, to_uint8(x)).probs.argmax(1),
                               minlength=self.classifier.head[-1].out_features)
            what = "classes"
        elif self.centers is not None:
            hist = torch.bincount(torch.cdist(x.double(), self.centers.double()).argmin(1),
                                  minlength=len(self.centers)).numpy()
            what = "modes"
        if hist is not None:
            p = hist / hist.sum()
            ent = max(0.0, float(-(p[p > 0] * np.log(p[p > 0])).sum() / math.log(len(p))))
            s["class_entropy"] = ent
            if ent < ENTROPY_MIN:
                collapsed = True
                top = int((p >= 0.01).sum())
                evidence.append(f"the {len(self.z)} fixed samples fall in {top} of {len(p)} {what} "
                                f"(normalised entropy {ent:.2f})")
        ev = " and ".join(evidence) + " for {steps} steps"
        return self._hold("mode_collapse", collapsed and step >= self.W.warmup, step,
                          self.W.window, ev)


def _unit(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.flatten(1).float() / 255.0


def _classifier_for(spec: str, data: Dataset):
    """The evaluation classifier for this dataset, when one exists and fits its images."""
    from genzoo.metrics.classifier import extractor_key, load_classifier
    try:
        net, _ = load_classifier(extractor_key(spec))
    except GenzooError:
        return None
    return net if net.in_shape[0] == data.sample_shape[0] else None
