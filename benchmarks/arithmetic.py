"""How often does latent vector arithmetic do what it implies? A number for SEEDS 001's "it mostly does not work well".

    python benchmarks/arithmetic.py RUN_DIR [--n 10000] [--per-pair 10] [--seed 0]

For an unconditional image GAN on MNIST (e.g. a dcgan run): draw --n latents, classify the decoded
samples with the evaluation classifier, and take each digit's mean latent (the "class" latent sets of
`genzoo latents save --label`). Then, for every ordered pair of digits x != y and --per-pair samples s
that are classified x, decode  mean(y) - mean(x) + s  ("change the digit to y, keep s's style") and
count how often the classifier calls it y. Reported plain and with the result's z rescaled to norm
sqrt(z_dim) (`genzoo arithmetic --renorm`), beside two sanity rates: a class mean alone decodes to its
class, and s alone stays x. Writes RUN_DIR/arithmetic_analogies.png: for 10 pairs, s | result.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genzoo import images
from genzoo.errors import exit_on_user_error
from genzoo.explore.arithmetic import class_latents, renorm
from genzoo.metrics.classifier import extractor_key, load_classifier
from genzoo.data import to_uint8
from genzoo.metrics.features import extract
from genzoo.run import Run


def classify(algo, net, z: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.from_numpy(extract(net, to_uint8(algo.generate(c)).cpu()).probs.argmax(1))
                      for c in z.split(1000)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--per-pair", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    r = Run.open(args.run_dir)
    cfg, algo, meta = r.cfg, r.algo, r.meta
    net = load_classifier(extractor_key(cfg.data.dataset))[0]
    z, pred = class_latents(algo, net, args.n, args.seed)
    K = int(pred.max()) + 1
    means = torch.stack([z[pred == c].mean(0) for c in range(K)])
    counts = torch.bincount(pred, minlength=K)
    results, want, sources = [], [], []
    g = torch.Generator().manual_seed(args.seed + 1)
    for x in range(K):
        pool = z[pred == x]
        for y in range(K):
            if x == y:
                continue
            s = pool[torch.randperm(len(pool), generator=g)[: args.per_pair]]
            results.append(means[y] - means[x] + s)
            sources.append(s)
            want += [y] * len(s)
    res, src, want = torch.cat(results), torch.cat(sources), torch.tensor(want)
    plain = (classify(algo, net, res) == want).float().mean().item()
    scaled = (classify(algo, net, renorm(res, algo.z_dim)) == want).float().mean().item()
    mean_ok = (classify(algo, net, means) == torch.arange(K)).float().mean().item()
    mean_ok_r = (classify(algo, net, renorm(means, algo.z_dim)) == torch.arange(K)).float().mean().item()
    src_ok = (classify(algo, net, src) != want).float().mean().item()
    print(f"{cfg.recipe} on {cfg.data.dataset}, step {meta['step']}; "
          f"class means from {args.n} classified samples (per class {counts.min().item()}..{counts.max().item()})")
    print(f"  analogies mean(y) - mean(x) + s classified y:  {plain:.1%} plain, {scaled:.1%} with --renorm "
          f"({len(want)} analogies, chance {1 / K:.0%})")
    print(f"  class mean alone classified as its class:      {mean_ok:.0%} plain, {mean_ok_r:.0%} with --renorm")
    print(f"  the source sample s alone is not y:            {src_ok:.1%}")
    pick = torch.arange(0, len(res), max(1, len(res) // 10))[:10]
    grid = torch.stack([algo.generate(src[pick]), algo.generate(renorm(res[pick], algo.z_dim))], 1).flatten(0, 1)
    out = Path(args.run_dir) / "arithmetic_analogies.png"
    images.save_grid(out, to_uint8(grid).cpu(), nrow=10)
    print(f"  pictures (pairs of source | result with --renorm): {out}")


if __name__ == "__main__":
    with exit_on_user_error():
        main()
