"""genzoo: classic generative models of images — train, evaluate, diagnose, explore.

    import genzoo
    run = genzoo.train("dcgan", dataset="embedded", steps=1500, out="runs/nb")  # a Run
    x = run.sample(64, seed=0)            # uint8 (N, C, H, W)
    m = genzoo.evaluate(run, n=5000)      # stamped metrics; writes metrics.json
    run = genzoo.Run.open("runs/nb")

See docs/api.md.
"""

__version__ = "0.1.0"

from genzoo.config import Config  # noqa: E402
from genzoo.config_files import list_recipes, load_recipe
from genzoo.errors import GenzooError  # noqa: E402

__all__ = ["Config", "GenzooError", "Run", "__version__", "evaluate", "list_recipes", "load_recipe", "train"]


def __getattr__(name: str):
    """The heavier parts load on first use, so `genzoo --help` stays quick."""
    if name == "train":
        from genzoo.api import train
        return train
    if name == "evaluate":
        from genzoo.evaluation import evaluate
        return evaluate
    if name == "Run":
        from genzoo.run import Run
        return Run
    raise AttributeError(f"module 'genzoo' has no attribute '{name}'")
