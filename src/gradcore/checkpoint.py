"""Checkpoints: ``gc.save(path, model, optimizer=None, extra=None)`` / ``gc.load(path, ...)``.

One ``.npz`` file (NumPy's zip of ``.npy`` arrays, read with ``allow_pickle=False``) holding

- ``manifest.json``: a JSON document (format version, gradcore version, the model's layer
  config, dtype, the parameter layout, optimizer type and hyperparameters, layer states such as
  Dropout's generator, user ``extra`` values);
- ``param/<name>``: every parameter (``param/0.Dense.W``), ``buffer/<name>``: BatchNorm
  running statistics etc., ``optim/<state>``: the optimizer's flat state arrays,
  ``extra/<key>``: array-valued ``extra`` entries.

Writing is atomic (a temporary file in the same folder, flushed and fsynced, then renamed), so
a crash never leaves a half-written checkpoint under the real name. Loading never executes code
from the file: arrays are read with ``allow_pickle=False``, the manifest is JSON, and layers are
rebuilt only from classes registered in ``gradcore.nn.LAYER_TYPES``. A corrupt, truncated or
mismatched file raises :class:`CheckpointError` saying what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .nn.base import Layer, layer_from_config

__all__ = ["FORMAT_VERSION", "Checkpoint", "CheckpointError", "load", "save"]

FORMAT_VERSION = 1
_MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not match the model/optimizer."""


@dataclass
class Checkpoint:
    """What :func:`load` returns: the model, the optimizer (if saved or given), ``extra``."""

    model: Layer
    optimizer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def _version() -> str:
    from . import __version__

    return __version__


def save(path, model: Layer, optimizer=None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (config, parameters, buffers, layer states), ``optimizer`` state and
    ``extra`` (JSON-able values or NumPy arrays) to ``path`` atomically. Returns the path.

    ``.npz`` is appended to a path without a suffix (like ``np.savez``).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if not isinstance(model, Layer):
        raise TypeError(f"save: model must be a gradcore layer/model, got {type(model).__name__}")
    arena = model.parameters()
    arrays: dict[str, np.ndarray] = {}
    for s in arena.segments:
        arrays[f"param/{s.name}"] = arena.param(s.name)
    for name, buf in model.buffers.items():
        arrays[f"buffer/{name}"] = buf
    states = {p: layer.get_state() for p, layer in model.named_layers() if layer.get_state()}
    manifest: dict[str, Any] = {
        "format": "gradcore-checkpoint",
        "format_version": FORMAT_VERSION,
        "gradcore_version": _version(),
        "model": model.get_config(),
        "dtype": arena.dtype.name,
        "layout": [
            {"name": s.name, "shape": list(s.shape), "frozen": not s.requires_grad}
            for s in arena.segments
        ],
        "buffers": sorted(model.buffers),
        "layer_states": states,
        "optimizer": None,
        "extra": {},
        "extra_arrays": [],
    }
    if optimizer is not None:
        if optimizer.params is not arena:
            raise ValueError("save: the optimizer does not belong to this model's parameters")
        sd = optimizer.state_dict()
        opt_json = {k: v for k, v in sd.items() if k not in ("state", "steps")}
        opt_json["state_keys"] = sorted(sd.get("state", {}))
        for k, v in sd.get("state", {}).items():
            arrays[f"optim/{k}"] = np.asarray(v)
        if "steps" in sd:
            arrays["optim_steps"] = np.asarray(sd["steps"])
        manifest["optimizer"] = _jsonable(opt_json, "optimizer state")
    for k, v in (extra or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"save: extra keys must be strings, got {k!r}")
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise TypeError(
                    f"save: extra[{k!r}] is an object array (cannot be stored without pickle)"
                )
            arrays[f"extra/{k}"] = v
            manifest["extra_arrays"].append(k)
        else:
            manifest["extra"][k] = _jsonable(v, f"extra[{k!r}]")
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value, what: str):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"save: {what} is not JSON-serialisable ({exc}); store arrays as "
            "NumPy arrays and other values as numbers, strings, lists or dicts"
        ) from None


def _read(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        # open the file ourselves: np.load leaks its handle when the zip is corrupt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is not a readable gradcore checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    if _MANIFEST not in arrays:
        raise CheckpointError(f"{path} has no {_MANIFEST}: not a gradcore checkpoint")
    try:
        manifest = json.loads(arrays.pop(_MANIFEST).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the manifest is corrupt ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "gradcore-checkpoint":
        raise CheckpointError(f"{path}: not a gradcore checkpoint manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version "
            f"{manifest.get('format_version')!r}, this gradcore reads "
            f"{FORMAT_VERSION}"
        )
    return manifest, arrays


def load(path, model: Layer | None = None, optimizer=None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`.

    - ``model=None``: the model is rebuilt from the saved config; given a model, its
      parameters/buffers are overwritten in place after checking that names, shapes and dtype
      match (a mismatch raises :class:`CheckpointError` naming the tensor).
    - the optimizer: ``optimizer`` given -> its state is loaded (type and layout checked);
      ``None`` and the file has optimizer state -> one is rebuilt (same class and
      hyperparameters) on the model's parameters.
    Parameter and state values round-trip bit-exactly.
    """
    manifest, arrays = _read(path)
    try:
        if model is None:
            model = layer_from_config(manifest["model"])
        elif not isinstance(model, Layer):
            raise TypeError(
                f"load: model must be a gradcore layer/model, got {type(model).__name__}"
            )
        arena = model.parameters()
        _check_layout(path, manifest, arena)
        for s in arena.segments:
            arena.param(s.name)[...] = arrays[f"param/{s.name}"]
        buffers = model.buffers
        if sorted(buffers) != manifest["buffers"]:
            raise CheckpointError(
                f"{path}: buffers differ: file has {manifest['buffers']}, "
                f"model has {sorted(buffers)}"
            )
        for name, buf in buffers.items():
            src = arrays[f"buffer/{name}"]
            if src.shape != buf.shape:
                raise CheckpointError(
                    f"{path}: buffer {name!r} has shape {src.shape} in the "
                    f"file, {buf.shape} in the model"
                )
            buf[...] = src
        layers = dict(model.named_layers())
        for p, state in manifest.get("layer_states", {}).items():
            if p not in layers:
                raise CheckpointError(f"{path}: state for unknown layer {p!r}")
            layers[p].set_state(state)
        for s in arena.segments:  # frozen flags travel with the model
            frozen = manifest["layout"][s.index].get("frozen", False)
            (s.layer.frozen.add if frozen else s.layer.frozen.discard)(s.key)
        opt_meta = manifest.get("optimizer")
        if opt_meta is not None:
            optimizer = _load_optimizer(path, opt_meta, arrays, arena, optimizer)
        extra = dict(manifest.get("extra", {}))
        for k in manifest.get("extra_arrays", []):
            extra[k] = arrays[f"extra/{k}"]
    except KeyError as exc:
        raise CheckpointError(f"{path}: missing entry {exc} (truncated or edited file?)") from None
    return Checkpoint(model=model, optimizer=optimizer, extra=extra, manifest=manifest)


def _check_layout(path, manifest, arena) -> None:
    if manifest["dtype"] != arena.dtype.name:
        raise CheckpointError(
            f"{path}: parameters are {manifest['dtype']} in the file, "
            f"{arena.dtype.name} in the model"
        )
    saved = [(e["name"], tuple(e["shape"])) for e in manifest["layout"]]
    have = [(s.name, s.shape) for s in arena.segments]
    if saved != have:
        for (n1, s1), (n2, s2) in zip(saved, have, strict=False):
            if (n1, s1) != (n2, s2):
                raise CheckpointError(
                    f"{path}: model does not match: file has {n1} {s1}, model has {n2} {s2}"
                )
        raise CheckpointError(
            f"{path}: model does not match: file has {len(saved)} tensors, model has {len(have)}"
        )


def _load_optimizer(path, meta, arrays, arena, optimizer):
    from . import optim

    sd = {k: v for k, v in meta.items() if k != "state_keys"}
    sd["state"] = {k: arrays[f"optim/{k}"] for k in meta.get("state_keys", [])}
    if "optim_steps" in arrays:
        sd["steps"] = arrays["optim_steps"]
    if optimizer is None:
        cls = getattr(optim, str(meta.get("type")), None)
        if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
            raise CheckpointError(f"{path}: unknown optimizer type {meta.get('type')!r}")
        optimizer = cls(arena, **meta.get("hyper", {}))
    elif optimizer.params is not arena:
        raise ValueError("load: the optimizer does not belong to the model's parameters")
    try:
        optimizer.load_state_dict(sd)
    except ValueError as exc:
        raise CheckpointError(f"{path}: optimizer state does not fit: {exc}") from None
    return optimizer
