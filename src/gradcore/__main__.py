"""``python -m gradcore ...`` is the same as the ``gradcore`` command."""

import sys

from .cli import main

sys.exit(main())
