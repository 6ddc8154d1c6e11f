"""pix2pix runs: L1, PSNR and SSIM of G(A) against B on the test pairs, colourfulness for colourisation,
and FID on classifier features where genzoo has a classifier for the target domain."""
from __future__ import annotations

import torch

from genzoo import __version__
from genzoo.data import to_uint8
from genzoo.metrics import fid
from genzoo.run import Run, translate_all


def _to01(x: torch.Tensor) -> torch.Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


def evaluate_pix2pix(run: Run, n: int | None = None) -> dict:
    """L1, PSNR and SSIM of G(A) against B on the test pairs; colourfulness of outputs and targets for
    colourisation; FID on classifier features where genzoo has a classifier for the target domain."""
    from genzoo.metrics.paired import colourfulness, l1, psnr, ssim

    cfg = run.cfg
    b = run.pairs(n)
    out, target = translate_all(run.algo, b["a"]), b["x"]
    o, t = _to01(out), _to01(target)
    base = {"n": len(o), "reference": f"{cfg.data.dataset}:test ({cfg.data.task} pairs)", "genzoo_version": __version__}
    m = {"l1": {"value": l1(o, t).mean().item(), "scale": "[0, 1]", **base},
         "psnr": {"value": psnr(o, t).mean().item(), "unit": "dB", **base},
         "ssim": {"value": ssim(o, t).mean().item(), **base}}
    if o.shape[1] == 3:
        m["colourfulness"] = {"value": colourfulness(o).mean().item(), "target": colourfulness(t).mean().item(),
                              **base}
    m.update(_classifier_fid(run, to_uint8(out), to_uint8(target), base))
    return {"genzoo_version": __version__, "run": str(run.path), "recipe": cfg.recipe, "step": run.step,
            "dataset": cfg.data.dataset, "task": cfg.data.task, "mode": cfg.loss.mode, "metrics": m}


def _classifier_fid(run: Run, out_u8: torch.Tensor, target_u8: torch.Tensor, base: dict) -> dict:
    from genzoo.metrics.features import extract

    if run.classifier is None:
        return {}  # no evaluation classifier for this domain (folders of the user's own images)
    net, clf_meta = run.classifier
    if len(out_u8) < 2 or net.in_shape[0] != out_u8.shape[1]:
        return {}
    fo, ft = extract(net, out_u8), extract(net, target_u8)
    return {f"fid[{clf_meta['extractor']}]": {"value": fid(fo.feats, ft.feats), "extractor": clf_meta["extractor"],
                                              "against": "the test targets", **base}}
