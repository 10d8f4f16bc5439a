"""``python -m gradcore.bench`` is ``gradcore bench``."""

import sys

from .run import main

sys.exit(main())
