"""gradcore's version: the one place it is written.

The build reads it from here (``[tool.scikit-build.metadata.version]`` in ``pyproject.toml``,
a regex over this file), so the installed metadata (``importlib.metadata.version("gradcore")``)
and ``gradcore.__version__`` cannot disagree. Imports nothing: every floor may import it
(``gradcore.checkpoint`` records it in each file).
"""

__version__ = "0.1.0"
