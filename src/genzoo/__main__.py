import os
import sys

from genzoo.cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
    # Under torchrun: every file is already written (atomically, fsynced) and the process group closed; leave
    # without the interpreter's teardown, where gloo's threads can abort the process after a clean run
    # ("terminate called without an active exception") and turn a finished job into a failed one.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)
