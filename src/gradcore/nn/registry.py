"""The layer classes a checkpoint may name: :data:`LAYER_TYPES` and :func:`layer_from_config`.

Every ``Layer`` subclass is registered here by class name when its class statement runs
(``Layer.__init_subclass__`` calls :func:`register_layer_class`). Checkpoints rebuild models
only from this table: a file names a class, it never supplies code. Below ``nn.base``: it
knows layers only as classes with a ``from_config`` classmethod.
"""

from __future__ import annotations

__all__ = ["LAYER_TYPES", "layer_from_config", "register_layer_class"]

#: Every Layer subclass by class name (filled by ``Layer.__init_subclass__``). Checkpoints
#: rebuild models only from this table: a file names a class, it never supplies code.
LAYER_TYPES: dict[str, type] = {}


def register_layer_class(cls: type, *, replace: bool = False) -> None:
    """Put ``cls`` in :data:`LAYER_TYPES` under its name. A name already taken by another
    class is an error (a checkpoint names a class by name only: a user ``Dense`` would silently
    replace gradcore's) unless ``replace=True``; the same class defined again (same module and
    qualified name: a reload, a re-run notebook cell) replaces it."""
    old = LAYER_TYPES.get(cls.__name__)
    same = old is not None and (old.__module__, old.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if old is not None and not same and not replace:
        raise TypeError(
            f"a layer class named {cls.__name__!r} is already registered "
            f"({old.__module__}.{old.__qualname__}); checkpoints find classes by name, so "
            f"{cls.__module__}.{cls.__qualname__} would silently replace it: rename it, or "
            f"say so explicitly: class {cls.__name__}(..., replace=True) (or "
            "register=False to keep it out of checkpoints)"
        )
    LAYER_TYPES[cls.__name__] = cls


def layer_from_config(config: dict):
    """Rebuild a layer (or model) from :meth:`Layer.get_config` output.

    Only classes registered in :data:`LAYER_TYPES` can be built; anything else is an error.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise ValueError(f"a layer config must be a dict with a 'class' name, got {config!r:.80}")
    cls = LAYER_TYPES.get(config["class"])
    if cls is None:
        raise ValueError(
            f"unknown layer class {config['class']!r}; known: {sorted(LAYER_TYPES)} "
            "(define or import a custom layer class before loading)"
        )
    return cls.from_config(config)
