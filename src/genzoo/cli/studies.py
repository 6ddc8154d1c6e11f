"""`genzoo experiment` and `genzoo theory`: the studies, one command each."""
from __future__ import annotations

from pathlib import Path

from genzoo.cli.common import add_device, int_list


def _add_experiment(sub) -> None:
    p = sub.add_parser("experiment", help="the z-dimension and critic-signal studies, one command each",
                       description="zdim: does a small z collapse onto a few digits? Trains one dcgan per z_dim (same seed, same "
                                   "fixed noise), then classifies 10,000 samples of each with the evaluation "
                                   "classifier: class histograms side by side (zdim_modes.png), a table of KL to "
                                   "uniform, classes covered, FID on classifier features and grid flicker "
                                   "(zdim.md, zdim.json), and a short summary.")
    esub = p.add_subparsers(dest="name", required=True, metavar="NAME")
    z = esub.add_parser("zdim", help="the z-dimension sweep (mode collapse against z_dim)")
    z.add_argument("--dims", default="100,50,10,2,1", help="comma list of z dimensions (default 100,50,10,2,1)")
    _study_args(z, 3000, 10_000, "runs/zdim", "steps per model", "samples classified per model")
    w = esub.add_parser("wgan-signal", help="does the critic's Wasserstein estimate track sample quality?",
                        description="Train wgan (and, for contrast, dcgan) with checkpoints at 10 points; at each, "
                                    "fid[lenet-*] on --n samples and the training signal averaged over the interval "
                                    "before it: the critic's estimate E[D(x)] - E[D(G(z))] for wgan/wgan-gp, D's "
                                    "loss otherwise. Writes wgan_signal.png/.json and prints Spearman's rank "
                                    "correlation of signal and FID per recipe.")
    w.add_argument("--recipes", default="wgan,dcgan", help="comma list (default wgan,dcgan)")
    _study_args(w, 2000, 2000, "runs/wgan-signal", "steps per recipe", "samples per FID")
    mo = esub.add_parser("modes", help="mode collapse on 2-D mixtures under the PacGAN protocol (GAN vs PacGAN-m)",
                         description="Trains --runs seeds of each row (gan = pack 1, pacganM = pack M) under "
                                     "--protocol pacgan (Lin et al. 2018: 4x400 BN G, maxout D, Adam 1e-4 b1 0.8, "
                                     "100 packs per batch, 100,000 fixed points, 400 epochs of 1,000 steps), "
                                     "evaluates 2,500 samples per run and prints mean ± std next to PacGAN Table 1. "
                                     "A full run is 400,000 steps (hours of CPU); --epochs sets a shorter budget.")
    mo.add_argument("--mixture", choices=["ring8", "grid25"], required=True)
    add_device(mo)
    mo.add_argument("--protocol", choices=["pacgan"], default="pacgan")
    mo.add_argument("--runs", type=int, default=10, help="seeds per row (default 10, as in the paper)")
    mo.add_argument("--recipes", default="gan,pacgan2,pacgan3,pacgan4", help="comma list of rows (gan, pacganM)")
    mo.add_argument("--epochs", type=float, help="epochs of 1,000 steps (default: the protocol's 400)")
    mo.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes (default 1)")
    mo.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    mo.add_argument("--seed", type=int, default=0, help="first seed; run k uses seed + k")
    mo.add_argument("--out", default="runs/modes", help="output folder (default runs/modes); finished runs are reused")
    mo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="a variation of the protocol for every row, e.g. --set optim.ema=0.999 (repeatable; not the "
                         "pack, batch, data, seed or steps, which the protocol fixes); use its own --out")


def _study_args(p, steps: int, n: int, out: str, steps_help: str, n_help: str) -> None:
    """The options every study shares."""
    p.add_argument("--steps", type=int, default=steps, help=f"{steps_help} (default {steps})")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-root", help="folder holding local dataset copies (default: $GENZOO_DATA)")
    p.add_argument("--n", type=int, default=n, help=f"{n_help} (default {n})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=out, help=f"output folder (default {out}); finished runs are reused")
    p.add_argument("--quiet", action="store_true")
    add_device(p)


def _add_theory(sub) -> None:
    p = sub.add_parser("theory", help="numerical checks of GAN theory, with figures",
                       description="optimal-d: a trained D matches D*(x) = p_data/(p_data + p_g) for fixed 1-D "
                                   "densities. equilibrium: with p_g = p_data, D -> 1/2 and V(D, G) -> -log 4. "
                                   "saturation: generator gradients of the minimax vs non-saturating loss as "
                                   "functions of D(G(z)). nash: gradient descent-ascent on min_x max_y xy, "
                                   "simultaneous vs alternating updates.")
    p.add_argument("name", choices=["optimal-d", "equilibrium", "saturation", "nash"])
    p.add_argument("--out", help="figure path (default theory-NAME.png)")


def cmd_experiment(args) -> int:
    from genzoo.studies.experiments import report, signal_report, wgan_signal, zdim

    if args.name == "modes":
        from genzoo.studies.modes import modes_experiment, report as modes_report
        result = modes_experiment(args.mixture, [r for r in args.recipes.split(",") if r], args.runs, Path(args.out),
                                  args.protocol, args.epochs, args.jobs, args.seed, args.threads,
                                  device=args.device or "auto", overrides=args.overrides)
        print(modes_report(result))
        print(f"wrote {Path(args.out) / f'modes-{args.mixture}.json'}")
        return 0
    if args.name == "wgan-signal":
        recipes = [r for r in args.recipes.split(",") if r]
        result = wgan_signal(recipes, args.steps, args.dataset, Path(args.out), args.data_root, args.seed, args.n,
                             progress=not args.quiet, device=args.device)
        print(signal_report(result))
        print(f"wrote {Path(args.out) / 'wgan_signal.png'}, wgan_signal.json")
        return 0
    result = zdim(int_list(args.dims, "--dims"), args.steps, args.dataset, Path(args.out), args.data_root, args.seed,
                  args.n, progress=not args.quiet, device=args.device)
    print(report(result))
    print(f"wrote {Path(args.out) / 'zdim_modes.png'}, zdim.md, zdim.json")
    return 0


def cmd_theory(args) -> int:
    from genzoo.studies.theory import EXPERIMENTS

    out = Path(args.out or f"theory-{args.name}.png")
    numbers = EXPERIMENTS[args.name](out)
    for k, v in numbers.items():
        print(f"  {k:<38} {v:.6g}" if isinstance(v, float) else f"  {k:<38} {v}")
    print(f"wrote {out}")
    return 0


def add(sub) -> None:
    _add_experiment(sub)
    _add_theory(sub)
    sub.choices["experiment"].set_defaults(func=cmd_experiment)
    sub.choices["theory"].set_defaults(func=cmd_theory)
