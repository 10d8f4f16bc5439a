"""``gradcore.init`` is ``gradcore.nn.init``: the initializers live at the floor of ``nn``.

This name stays for existing code (``gc.init.he_normal``, ``from gradcore.init import lsuv``):
importing it binds the very module object ``gradcore.nn.init`` (same functions, same
``__module__``, so pickles and configs that name them keep working), not a copy.
"""

import sys

from .nn import init as _init

sys.modules[__name__] = _init
