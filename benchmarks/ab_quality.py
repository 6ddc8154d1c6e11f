"""Quality at equal steps, before and after a change: does it leave training results statistically the same?

    python benchmarks/ab_quality.py --base 92adfa7^ --recipe dcgan --steps 3000 --seeds 0,1,2

trains RECIPE on MNIST for STEPS steps with each seed twice, once with genzoo as it was at git revision BASE (a
worktree in a temporary folder, put first on PYTHONPATH) and once with this working tree, alternating, then
evaluates every run with this working tree's evaluator (10,000 samples against MNIST's test split). Prints each
run and, per version, mean ± std over the seeds, and the difference of the means in units of the seeds' spread.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import genzoo
from genzoo.api import make_config
from genzoo.cli import Parser
from genzoo.cli.common import int_list
from genzoo.data import parse_spec
from genzoo.errors import GenzooError, at_least_1, exit_on_user_error

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("fid[lenet-mnist]", "precision", "recall")

p = Parser(description="Trains a recipe with each seed at git revision --base and with this working tree, "
           "evaluates both with this tree's evaluator, and prints mean ± std per version and their difference.")
p.add_argument("--base", required=True, help="git revision of the 'before' code, e.g. 92adfa7^")
p.add_argument("--recipe", default="dcgan", help="recipe to train (default dcgan)")
p.add_argument("--dataset", default="mnist", help="dataset spec (default mnist; --data-root via $GENZOO_DATA)")
p.add_argument("--steps", type=int, default=3000, help="steps per run (default 3000)")
p.add_argument("--seeds", default="0,1,2", help="comma list of seeds, each trained once per version (default 0,1,2)")
p.add_argument("--threads", type=int, default=None, help="OMP threads of each training (default: torch's choice)")
p.add_argument("--out", default="runs/bench-ab", help="folder of the runs, reused when they exist (default runs/bench-ab)")
a = p.parse_args()


def main():
    seeds = int_list(a.seeds, "--seeds")
    at_least_1(steps=a.steps, threads=a.threads)
    parse_spec(make_config(a.recipe, dataset=a.dataset).data.dataset)  # a bad recipe or dataset: one line first
    tmp = Path(tempfile.mkdtemp(prefix="genzoo-ab-"))
    base_tree = tmp / "base"
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), a.base],
                          capture_output=True, text=True)
    if made.returncode:
        shutil.rmtree(tmp, ignore_errors=True)
        why = (made.stderr.strip().splitlines() or [f"exit {made.returncode}"])[-1]
        raise GenzooError(f"--base {a.base}: git could not check it out ({why}); "
                          "give a revision of this repository")
    try:
        results = train_both(seeds, {"before": str(base_tree / "src"), "after": str(ROOT / "src")})
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(results)


def train_both(seeds, versions):
    results: dict[str, list[dict]] = {v: [] for v in versions}
    for seed in seeds:
        for version, src in versions.items():  # alternating, so a slower stretch of the machine hits both
            tag = a.base.replace("^", "p").replace("~", "t").replace("/", "-") if version == "before" else "head"
            out = Path(a.out) / f"{a.recipe}-{a.dataset}-{a.steps}-{version}-{tag}-seed{seed}"  # reused if it exists
            env = dict(os.environ, PYTHONPATH=src)
            if a.threads:
                env["OMP_NUM_THREADS"] = str(a.threads)
            t = time.time()
            if not (out / "checkpoints").is_dir():
                done = subprocess.run([sys.executable, "-m", "genzoo", "train", a.recipe, "--dataset", a.dataset,
                                       "--steps", str(a.steps), "--seed", str(seed), "--out", str(out), "--quiet",
                                       "--set", "train.report=false"], env=env)
                if done.returncode:  # the training printed why (one line, or a bug's traceback): end with its code
                    raise SystemExit(done.returncode)
            wall = time.time() - t
            m = genzoo.evaluate(out, n=10_000, seed=0, metrics="fid,pr")["metrics"]
            row = {"seed": seed, "wall_s": wall, **{k: m[k]["value"] for k in KEYS}}
            results[version].append(row)
            print(f"{version:6s} seed {seed}: " + ", ".join(f"{k} {row[k]:.3f}" for k in KEYS)
                  + f" ({wall:.0f} s)", flush=True)
    return results


def print_table(results):
    print(f"\n{a.recipe} on {a.dataset}, {a.steps} steps, seeds {a.seeds}; before = {a.base}, after = working tree\n")
    print("| metric | before (mean ± std) | after (mean ± std) | difference / pooled std |\n|---|---|---|---|")
    for k in KEYS:
        b, c = [r[k] for r in results["before"]], [r[k] for r in results["after"]]
        sb, sc = (statistics.stdev(x) if len(x) > 1 else 0.0 for x in (b, c))
        pooled = ((sb ** 2 + sc ** 2) / 2) ** 0.5
        z = (statistics.mean(c) - statistics.mean(b)) / pooled if pooled else float("nan")
        print(f"| {k} | {statistics.mean(b):.3f} ± {sb:.3f} | {statistics.mean(c):.3f} ± {sc:.3f} | {z:+.2f} |")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "ab.json").write_text(json.dumps({"args": vars(a), "results": results}, indent=1))


with exit_on_user_error():
    main()
