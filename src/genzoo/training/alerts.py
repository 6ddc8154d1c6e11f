"""What the loop does when a watcher raises an alert: log it, then warn, stop or roll back to the last good
checkpoint with lower learning rates (``watch.<name>=warn|stop|rollback``)."""
from __future__ import annotations

import json
import sys

from tqdm import tqdm

from genzoo.errors import GenzooError
from genzoo.training import checkpoint
from genzoo.training.checkpoint import ckpt_dir
from genzoo.training.rundir import restore, trim_log
from genzoo.training.watch import Alert


def handle_alerts(alerts: list[Alert], actions: dict[str, str], log, save, step: int) -> str:
    """Log and show each alert (``log`` is None on ranks other than 0), then apply the strongest action:
    stop > rollback > warn. Every rank calls this with the same alerts."""
    acts = []
    for a in alerts:
        act = actions[a.name]
        acts.append(act)
        if log is not None:
            log.write(json.dumps(a.event(act)) + "\n")
            tqdm.write(f"genzoo: alert: {a.message} [{act}]", file=sys.stderr)
    if log is not None:
        log.flush()
    if "stop" in acts:
        diverged = any(a.name == "divergence" for a in alerts)
        if not diverged:
            save(step)
        names = ", ".join(sorted({a.name for a in alerts}))
        raise GenzooError(f"stopped at step {step} by alert {names} (watch.<name>=stop); "
                          + ("the weights are not saved, earlier checkpoints are intact" if diverged
                             else "checkpoint saved"))
    return "rollback" if "rollback" in acts else "warn"


def rollback(s, alerts: list[Alert], log, step: int, rollbacks: int) -> int:
    """Restore the latest checkpoint from before the failure began and scale both learning rates."""
    W = s.cfg.watch
    if rollbacks > W.max_rollbacks:
        raise GenzooError(f"stopped at step {step}: still failing after {W.max_rollbacks} rollbacks; "
                          "lower the learning rates and start again")
    onset = min(a.onset for a in alerts)
    good = [p for p in checkpoint.list_checkpoints(ckpt_dir(s.run)) if checkpoint.step_of(p) < onset]
    if not good:
        raise GenzooError(f"rollback at step {onset}: no checkpoint from before step {onset}; "
                          "lower train.ckpt_every")
    path = good[-1]
    current = {name: [g["lr"] for g in opt.param_groups] for name, opt in s.algo.opts.items()}
    scale = s.algo.lr_scale
    back = restore(path, s.algo, s.sampler, s.rank_rng, s.dist)  # every rank restores the same checkpoint ...
    s.dist.barrier()  # ... before rank 0 deletes the later ones
    s.algo.lr_scale = scale * W.lr_factor
    if s.algo.lr_scheduled:  # the rates are a function of the step: the schedule's, scaled, at the step resumed
        s.algo.schedule_lr(s.algo.schedule_step)
    else:  # lower the rates in force now (the checkpoint may hold higher ones)
        for name, opt in s.algo.opts.items():
            for group, lr in zip(opt.param_groups, current[name]):
                group["lr"] = lr * W.lr_factor
    lrs = {f"lr_{name.lower()}": opt.param_groups[0]["lr"] for name, opt in s.algo.opts.items()}
    if not s.dist.is_main:
        s.dist.barrier()
        return back
    for later in checkpoint.list_checkpoints(ckpt_dir(s.run)):  # they hold the failing weights
        if checkpoint.step_of(later) > back:
            later.with_suffix(".safetensors").unlink(missing_ok=True)
            later.unlink(missing_ok=True)
    trim_log(s.run / "log.jsonl", back, keep_events=True)
    log.write(json.dumps({"step": back, "event": "rollback", "from_step": max(a.step for a in alerts),
                          "checkpoint": path.name, **lrs}) + "\n")
    log.flush()
    tqdm.write(file=sys.stderr, s=f"genzoo: rolled back to step {back} ({path.name}); learning rates now "
               + ", ".join(f"{k} = {v:.3g}" for k, v in lrs.items()))
    s.monitor.reset()
    s.dist.barrier()
    return back
