"""Accuracy under attack: the numbers, attack.json, the accuracy-vs-ε plot and attack.png."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from genzoo.attack.gradient import PixelModel, check_eps, fgsm, pgd
from genzoo.errors import GenzooError
from genzoo.io import atomic_write_bytes

METHODS = ("fgsm", "pgd", "advgan")


@torch.no_grad()
def predict(model, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    return torch.cat([model(c).argmax(1) for c in x.split(batch)])


def make_attack(method: str, eps: float, *, steps: int = 40, step_size: float = 0.01, norm: str = "linf",
                restarts: int = 1, random_start: bool = True, target=None, seed: int = 0,
                generator: Callable | None = None) -> Callable:
    """attack(model, x, y) -> x_adv for one method and ε (x in [0, 1])."""
    check_eps(eps)
    if method == "fgsm":
        return lambda m, x, y: fgsm(m, x, y, eps, target=target)
    if method == "pgd":
        return lambda m, x, y: pgd(m, x, y, eps, steps, step_size, norm, random_start, restarts, target, seed)
    if method == "advgan":
        if generator is None:
            raise GenzooError("--method advgan needs --generator RUN_DIR (a run of the advgan recipe)")
        return lambda m, x, y: generator(x, eps)
    raise GenzooError(f"unknown attack method '{method}'; choose from {', '.join(METHODS)}")


def robust_accuracy(model, x: torch.Tensor, y: torch.Tensor, method: str = "pgd", eps: Sequence[float] = (0.3,),
                    batch: int = 500, target=None, keep: int = 0, **kw) -> dict:
    """Clean accuracy and, per ε, accuracy under attack, success rate (of the images classified right,
    the share the attack flips; targeted: the share sent to the target), mean L∞/L2 and images/s.
    ``model`` reads [0, 1]; ``keep`` > 0 also returns the first ``keep`` adversarial images per ε."""
    eps = [check_eps(e) for e in eps]
    model.eval()
    clean = predict(model, x)
    ok = clean == y
    out = {"clean_accuracy": ok.float().mean().item(), "n": len(y), "eps": {}}
    for e in eps:
        attack = make_attack(method, e, target=target, **kw)
        t0 = time.perf_counter()
        adv = torch.cat([attack(model, xb, yb) for xb, yb in zip(x.split(batch), y.split(batch))])
        secs = time.perf_counter() - t0
        pred = predict(model, adv)
        d = (adv - x).flatten(1)
        hit = (pred != y) if target is None else (pred == int(target))
        base = ok if target is None else (y != int(target))
        row = {"accuracy": (pred == y).float().mean().item(),
               "success_rate": (hit & base).float().sum().item() / max(1, base.sum().item()),
               "mean_linf": d.abs().max(1).values.mean().item(), "mean_l2": d.norm(dim=1).mean().item(),
               "seconds": round(secs, 3), "images_per_s": round(len(y) / max(secs, 1e-9), 1)}
        if keep:
            row["_adv"], row["_pred"] = adv[:keep], pred[:keep]
        out["eps"][f"{e:g}"] = row
    if keep:
        out["_clean_pred"] = clean[:keep]
    return out


def load_images(spec: str, split: str, n: int | None, root: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n images of a split in [0, 1] and their labels."""
    from genzoo.data import load_dataset

    data = load_dataset(spec, split, root)
    if data.y is None:
        raise GenzooError(f"{spec} has no labels; attacks need labelled images")
    n = min(n or len(data), len(data))
    return data.x[:n].float() / 255.0, data.y[:n].long()


def resolve_dataset(meta: dict, dataset: str | None) -> str:
    """The classifier's dataset unless another with the same evaluation classifier is named."""
    from genzoo.metrics.classifier import extractor_key

    if dataset is None:
        return meta["dataset"]
    if extractor_key(dataset) != meta.get("key", extractor_key(meta["dataset"])):
        raise GenzooError(f"classifier '{meta['name']}' was trained on {meta['dataset']}, not {dataset}")
    return dataset


def attack_classifier(classifier: str, dataset: str | None = None, method: str = "pgd",
                      eps: Sequence[float] = (0.1, 0.2, 0.3), n: int = 1000, out: str | Path | None = None,
                      generator_run: str | Path | None = None, split: str = "test", root: str | None = None,
                      device: str | None = None, **kw) -> dict:
    """The command `genzoo attack` as a function: attack a classifier on the first n images of a split.
    Returns the stamped result; with ``out`` writes attack.json, attack_eps.png and attack.png there."""
    from genzoo import __version__
    from genzoo.metrics.classifier import load_classifier_spec as load_target

    if method not in METHODS:
        raise GenzooError(f"unknown attack method '{method}'; choose from {', '.join(METHODS)}")
    from genzoo.algos.base import resolve_device

    eps = [check_eps(e) for e in eps]
    dev = resolve_device(device or "auto")
    net, meta = load_target(classifier, dev)
    dataset = resolve_dataset(meta, dataset)
    gen = None
    if method == "advgan":
        from genzoo.attack.advgan import load_generator
        gen = load_generator(generator_run, meta)
    elif generator_run:
        raise GenzooError("--generator is for --method advgan")
    x, y = load_images(dataset, split, n, root)
    model = PixelModel(net)
    res = robust_accuracy(model, x.to(dev), y.to(dev), method, eps, generator=gen, keep=8 if out else 0, **kw)
    res = _to_cpu(res)
    settings = {k: v for k, v in kw.items() if v is not None}
    stamp = {"genzoo_version": __version__, "classifier": meta["name"], "classifier_dataset": meta["dataset"],
             "dataset": dataset, "split": split, "n": len(y), "method": method, "settings": settings,
             **({"generator": str(generator_run)} if generator_run else {})}
    result = {**stamp, "clean_accuracy": res["clean_accuracy"],
              "eps": {e: {k: v for k, v in r.items() if not k.startswith("_")} for e, r in res["eps"].items()}}
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "attack.json", json.dumps(result, indent=2).encode())
        plot_accuracy(result, out / "attack_eps.png")
        last = list(res["eps"].values())[-1]
        attack_figure(x[:8], res["_clean_pred"], last["_adv"], last["_pred"], out / "attack.png",
                      f"{method} ε={list(res['eps'])[-1]} on {meta['name']}")
    return result


def _to_cpu(res: dict) -> dict:
    """The kept example tensors of ``robust_accuracy`` on the CPU, for the figures."""
    out = {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in res.items()}
    out["eps"] = {e: {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in r.items()} for e, r in res["eps"].items()}
    return out


def format_table(result: dict) -> str:
    lines = [f"{result['classifier']} on {result['dataset']}:{result['split']} (n={result['n']}), "
             f"{result['method']}: clean accuracy {100 * result['clean_accuracy']:.2f}%",
             f"{'eps':>6} {'accuracy':>9} {'success':>8} {'mean Linf':>10} {'mean L2':>8} {'img/s':>9}"]
    for e, r in result["eps"].items():
        lines.append(f"{e:>6} {100 * r['accuracy']:>8.2f}% {100 * r['success_rate']:>7.2f}% {r['mean_linf']:>10.4f} "
                     f"{r['mean_l2']:>8.3f} {r['images_per_s']:>9.1f}")
    return "\n".join(lines)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plot_accuracy(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    es = [0.0] + [float(e) for e in result["eps"]]
    acc = [result["clean_accuracy"]] + [r["accuracy"] for r in result["eps"].values()]
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    ax.plot(es, [100 * a for a in acc], "o-")
    ax.set_xlabel("ε (pixel units, [0, 1])")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{result['method']} on {result['classifier']}", fontsize=9)
    ax.grid(alpha=0.3)
    atomic_write_bytes(path, _png(fig))


def attack_figure(x: torch.Tensor, pred: torch.Tensor, adv: torch.Tensor, adv_pred: torch.Tensor, path: Path,
                  title: str = "") -> None:
    """One row per image: clean | perturbation (magnified to the full range) | adversarial, with labels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(x)
    fig, axes = plt.subplots(n, 3, figsize=(4.2, 1.35 * n), dpi=100, squeeze=False)
    for i in range(n):
        d = adv[i] - x[i]
        m = d.abs().max().clamp_min(1e-8)
        panels = [(x[i], f"pred {int(pred[i])}"), (0.5 + 0.5 * d / m, f"δ ×{0.5 / m.item():.1f}"),
                  (adv[i], f"pred {int(adv_pred[i])}")]
        for ax, (img, lab) in zip(axes[i], panels):
            img = img.permute(1, 2, 0).squeeze(-1).clamp(0, 1).numpy()  # (H, W[, C])
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            ax.set_title(lab, fontsize=7, pad=2)
            ax.axis("off")
    fig.suptitle(title, fontsize=8)
    atomic_write_bytes(path, _png(fig))
