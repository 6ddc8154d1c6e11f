"""genzoo: classic generative models of images — train, evaluate, diagnose, explore."""

__version__ = "0.1.0"

from genzoo.config import Config, load_recipe, list_recipes  # noqa: E402
from genzoo.errors import GenzooError  # noqa: E402

__all__ = ["Config", "GenzooError", "__version__", "list_recipes", "load_recipe"]
