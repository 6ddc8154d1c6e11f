"""``genzoo train|evaluate|sample --nproc N``: the same command in N processes on this machine, through torch's
elastic launcher (what ``torchrun --standalone --nproc_per_node N`` runs), started in a child process; and the
one line a rank prints when another rank of its job fails."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from genzoo.errors import GenzooError
from genzoo.training.distributed import world_size_from_env


def launch(nproc: int, argv: list[str], device: str = "auto") -> int:
    """``genzoo COMMAND --nproc N``: run ``python -m genzoo <argv>`` in N processes on this machine through torch's
    elastic launcher (what torchrun --standalone --nproc_per_node N runs). Returns the job's exit code: 0, or
    the first failed rank's (which printed its own one-line message)."""
    import signal
    import subprocess
    import sys
    import threading

    from genzoo.algos.base import resolve_device

    if isinstance(nproc, bool) or nproc < 1:
        raise GenzooError(f"--nproc must be a whole number >= 1, got {nproc}")
    if world_size_from_env() > 1:
        raise GenzooError("--nproc starts its own processes; drop it when running under torchrun")
    dev = resolve_device(device)
    if dev.type == "cuda" and nproc > torch.cuda.device_count():
        raise GenzooError(f"--nproc {nproc} is more than the {torch.cuda.device_count()} CUDA GPU(s) here; "
                          f"use --nproc {torch.cuda.device_count()} or fewer (one process per GPU)")
    if dev.type == "mps" and nproc > 1:
        raise GenzooError("--nproc > 1 needs CUDA GPUs or the CPU; mps has one device")
    # The launcher runs in a child process of its own: the rendezvous store's native threads, left running
    # when the launcher returns, could abort this interpreter at exit ("terminate called without an active
    # exception"); the child leaves with os._exit. SIGINT reaches it through the terminal's process group,
    # SIGTERM is passed on.
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    proc = subprocess.Popen([sys.executable, "-c", "from genzoo.training.launcher import _launcher_main; "
                             "_launcher_main()", str(nproc), *argv], env=env)
    old = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                code = proc.wait()
                return 128 - code if code < 0 else code  # killed by a signal: 128 + its number
            except KeyboardInterrupt:  # the launcher got the same SIGINT and stops the ranks; wait for it
                continue
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, old)


def _launcher_main() -> None:
    """The child process of ``launch``: torch's elastic launcher over ``python -m genzoo ARGV``; exits with 0 or
    the first failed rank's exit code, through os._exit."""
    import logging
    import sys

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    nproc, argv = int(sys.argv[1]), sys.argv[2:]
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"genzoo-{os.getpid()}",
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.2)
    code = 0
    try:
        elastic_launch(config, sys.executable)("-m", "genzoo", *argv)
    except ChildFailedError as e:
        _, failure = e.get_first_failure()
        code = failure.exitcode if failure.exitcode > 0 else 1
    except KeyboardInterrupt:
        code = 130
    except Exception as e:  # noqa: BLE001 - the launcher itself failed: one line
        print(f"genzoo: error: the launcher failed ({type(e).__name__}: {str(e).splitlines()[0][:160]})",
              file=sys.stderr)
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def is_collective_error(e: BaseException) -> bool:
    """A failed collective: a peer that died, closed its connection or timed out."""
    if isinstance(e, getattr(dist, "DistError", ())):
        return True
    text = str(e)
    return any(w in text for w in ("gloo", "Gloo", "NCCL", "Connection", "connection", "timed out", "Timeout",
                                   "closed", "Broken pipe", "peer"))


def one_line_collective_error(e: BaseException, rank: int, run) -> GenzooError:
    """A lost peer (a rank killed or crashed, a dead connection, a timeout) as one line."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:140]
    return GenzooError(f"rank {rank}: another rank stopped or became unreachable ({first}); the latest checkpoint "
                       f"is intact; continue with: genzoo train --resume {run}")
