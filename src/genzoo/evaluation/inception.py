"""Optional Inception FID: fid/kid/is[inception-v3] beside the classifier metrics, when weights are supplied."""
from __future__ import annotations

import sys
from pathlib import Path

from genzoo.errors import GenzooError
from genzoo.metrics.features import Features


def inception_weights(inception: bool | str | None, which: tuple[str, ...], n: int, say: bool = True) -> Path | None:
    """Checked before any work: the Inception weights to use (``inception`` True: the cached standard file;
    a path: that file), or None when not asked for or, said in one line on stderr (if ``say``), not found."""
    if not inception:
        return None
    from genzoo.metrics.inception import MISSING, find_weights
    from genzoo.nets.inception import FEATURE_DIM

    path = find_weights(None if inception is True else inception)
    if "fid" in which and n <= FEATURE_DIM:  # fail before minutes of 299 x 299 forward passes
        raise GenzooError(f"fid[inception-v3] needs more samples than its {FEATURE_DIM} feature dimensions; "
                          f"use --n {FEATURE_DIM + 1} or more (10000 is usual), or --metrics kid,is")
    if path is None and say:
        print(f"genzoo: {MISSING}", file=sys.stderr)
    return path


def add_inception(result: dict, fake: Features, net, digest: str, spec: str, root: str | None, n: int,
                  which: tuple[str, ...], progress: bool) -> None:
    """fid/kid/is[inception-v3] of the samples' Inception features ``fake`` against the test split's."""
    from genzoo.evaluation.registry import sample_metrics
    from genzoo.metrics.inception import inception_reference

    ref, stamp = inception_reference(net, digest, spec, root, n, progress)
    out = sample_metrics(fake, ref, stamp, tuple(m for m in which if m in ("fid", "kid", "is")))
    for v in out.values():
        v["weights_sha256"] = stamp["weights_sha256"]
    result["metrics"].update(out)
