"""`train.tensorboard`: TensorBoard event files in the run directory, beside log.jsonl.

The loop hands every record it writes to log.jsonl to ``Board.record`` (the API's ``on_log`` callback): scalar
rows become scalars (tag = the log key, so ``tensorboard --logdir runs`` shows every run's curves under the same
names), alerts and rollbacks become text under ``alerts``, and each fixed-noise grid becomes the image ``samples``.
The writer is torch's ``SummaryWriter``, which needs the ``tensorboard`` package: ``pip install genzoo[tensorboard]``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from genzoo.errors import GenzooError

EXTRA = "pip install 'genzoo[tensorboard]'"


def require() -> None:
    """One line, before any work, when the tensorboard package is not importable."""
    try:
        import tensorboard  # noqa: F401 - torch.utils.tensorboard needs it; checked first, as torch caches its own
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise GenzooError(f"train.tensorboard=true needs the tensorboard package: {EXTRA} (or pip install "
                          "tensorboard), or set train.tensorboard=false") from None


class Board:
    """A SummaryWriter opened on the run directory when training starts (rank 0 only)."""

    def __init__(self):
        self.writer, self._failed = None, False

    def start(self, run: Path, info: dict) -> None:
        """The loop's ``on_start``: a resumed run purges events after its checkpoint's step, as log.jsonl does."""
        from torch.utils.tensorboard import SummaryWriter
        step = int(info.get("step", 0))
        self.writer = SummaryWriter(log_dir=str(run), flush_secs=10, purge_step=step + 1 if step else None)

    def record(self, rec: dict) -> None:
        """The loop's ``on_log``: a log.jsonl record or a grid; a failure warns once and never stops training."""
        if self.writer is None or self._failed:
            return
        try:
            self._record(rec)
        except Exception as e:  # noqa: BLE001 - TensorBoard logging must never stop a training run
            self._failed = True
            warnings.warn(f"TensorBoard logging stopped: {e}")

    def _record(self, rec: dict) -> None:
        step = int(rec.get("step", 0))
        if "grid" in rec:
            import numpy as np
            from PIL import Image
            img = np.asarray(Image.open(rec["grid"]).convert("RGB"))
            self.writer.add_image("samples", img, step, dataformats="HWC")
        elif "event" in rec:
            name = rec.get("alert", rec["event"])
            text = f"**step {step}: {name}**" + (f" [{rec['action']}]" if rec.get("action") else "")
            rest = {k: v for k, v in rec.items() if k not in ("step", "event", "alert", "action")}
            self.writer.add_text("alerts", text + "  \n" + json.dumps(rest, default=str), step)
        else:
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"TensorBoard event file not closed cleanly: {e}")
            self.writer = None
