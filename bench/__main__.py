"""``python -m bench`` from the repository root: a thin shim over ``gradcore.bench``.

Results go to ``bench/results/`` (gitignored) unless ``--out DIR`` is given.
"""

import sys
from pathlib import Path

from gradcore.bench import main

sys.exit(main(default_out_dir=Path(__file__).resolve().parent / "results", prog="python -m bench"))
