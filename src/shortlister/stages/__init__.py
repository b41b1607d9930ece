"""The DVC stage entry points, one module per stage (docs/architecture.md)."""

import time

# `python -m shortlister.stages.<stage>` imports this package before the stage module's
# own imports, so a stage's wall time (stages/common.py) counts them too.
IMPORTED_AT = time.time()
