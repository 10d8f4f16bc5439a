"""Checkpoints: ``gc.save(path, model, optimizer=None, extra=None)`` / ``gc.load(path, ...)``.

One ``.npz`` file (a zip of uncompressed ``.npy`` arrays, as ``np.savez`` writes) holding

- ``manifest.json``: a JSON object (format version, gradcore version, the model's layer
  config, dtype, the parameter layout, the shape and dtype of every buffer and ``extra``
  array, optimizer type and hyper-parameters, layer states such as Dropout's generator, user
  ``extra`` values);
- ``param/<name>``: every parameter (``param/0.Dense.W``), ``buffer/<name>``: BatchNorm
  running statistics etc., ``optim/<state>``: the optimizer's flat state arrays,
  ``optim_steps``: its per-tensor step counts, ``extra/<key>``: array-valued ``extra`` entries.

What a save guarantees
    Everything is checked before a byte is written: parameters, buffers and optimizer state
    must be finite real numbers (a diverged model cannot overwrite the last good checkpoint),
    buffers and ``extra`` arrays must be real numeric arrays (bool, int, uint, float; never
    object, str, void or complex, which ``np.savez`` would pickle or truncate). The file is
    then written to a temporary file in the target's folder, flushed, fsynced, closed,
    REOPENED AND VERIFIED with the reader :func:`load` uses (manifest, every entry's header,
    bytes and zip CRC, compared with what was meant to be written), and only then
    ``os.replace``\\ d onto the target; the folder is fsynced after the rename. Any failure
    before the rename leaves the previous file byte-identical and removes the temporary file;
    the exception propagates: :class:`CheckpointError` for content that cannot be stored or
    did not verify, ``TypeError``/``ValueError`` for bad arguments, the original ``OSError``
    (disk full, permission, ...) for a failing write, fsync or rename. A failure of the final
    folder fsync is raised too; the new file is then complete and in place.

What a load verifies
    The file must be a zip of uncompressed ``.npy`` members (so no entry can be larger than
    the file), with a ``manifest.json`` of at most 16 MiB that is a JSON object of the
    documented schema (every key present with its type; JSON nested at most 200 deep, layer
    configs at most 64 deep and 100000 layers; layer classes only from
    ``gradcore.nn.LAYER_TYPES`` and subclasses of ``Layer``; the size arguments of gradcore's
    layers may not ask for more parameter values than the layout holds, so a lying config
    cannot make load allocate much more than the file's size), and exactly the entries that
    manifest names (no missing, extra or duplicate members). Every entry's ``.npy`` header is
    read first and must match the manifest EXACTLY (shape, dtype and byte order; its byte count
    must equal the member's size) before anything is allocated; then its bytes are read and the
    zip CRC checked. Parameters, buffers and optimizer state must be finite; ``extra`` arrays
    may hold anything numeric. Against the model: tensor names, shapes and dtype, buffer names,
    shapes and dtypes must equal the model's. Pickles are never loaded, no code from the file
    runs. Every failure is a :class:`CheckpointError` (a ``ValueError``) naming the entry or
    manifest key; a constructor error from a layer config in the file names the layer's place
    in the config. A missing file raises ``FileNotFoundError``, a folder ``IsADirectoryError``
    (other ``OSError`` such as ``PermissionError`` from opening the file propagate). Loading
    into a given model/optimizer changes nothing unless everything fits.

Format version 2 (this one) records buffer and ``extra`` array shapes and dtypes; version-1
files (written by earlier gradcore versions) still load: their buffers are checked against the
model only, their ``extra`` arrays against their own headers.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._args import describe
from ._version import __version__
from .nn.base import Layer
from .nn.registry import LAYER_TYPES, layer_from_config

__all__ = ["FORMAT_VERSION", "Checkpoint", "CheckpointError", "load", "save"]

FORMAT_VERSION = 2
_READS = (1, 2)
_MANIFEST = "manifest.json"
_MAX_MANIFEST_BYTES = 16 << 20
_MAX_JSON_DEPTH = 200
_MAX_LAYER_DEPTH = 64
_MAX_LAYERS = 100_000
_MAX_ENTRIES = 1_000_000
_MAX_NDIM = 32
_NUMERIC_KINDS = "biuf"  # bool, int, uint, float: what a checkpoint stores
_NPY_MAGIC = b"\x93NUMPY"
_FLOAT_NAMES = ("float32", "float64")
#: constructor arguments of gradcore's layers that are tensor sizes (see _check_layer_tree)
_SIZE_ARGS = frozenset({"in_features", "out_features", "num_features", "input_size", "hidden_size"})


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not match the model/optimizer; or
    what was to be saved cannot be stored faithfully (non-numeric or non-finite arrays)."""


@dataclass
class Checkpoint:
    """What :func:`load` returns: the model, the optimizer (if saved or given), ``extra``."""

    model: Layer
    optimizer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def _check_path(owner: str, path) -> Path:
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"{owner}: path must be a str or os.PathLike, got {describe(path)}")
    path = Path(path)
    if str(path) in ("", "."):
        raise ValueError(f"{owner}: path must name a file, got {str(path)!r}")
    return path


def _optim_module():
    from . import optim  # optim is a floor below; imported here to keep import light

    return optim


def _check_optimizer(owner: str, optimizer, arena) -> None:
    optim = _optim_module()
    if not isinstance(optimizer, optim.Optimizer):
        raise TypeError(
            f"{owner}: optimizer must be a gradcore optimizer or None, got {describe(optimizer)}"
        )
    if optimizer.params is not arena:
        raise ValueError(
            f"{owner}: optimizer must belong to the model's parameters "
            "(built on model.parameters()), got one over another arena"
        )


# ------------------------------------------------------------------------------------ save
def save(path, model: Layer, optimizer=None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (config, parameters, buffers, layer states), ``optimizer`` state and
    ``extra`` to ``path`` atomically and verified; returns the path written.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npz`` is appended to a name without that suffix (like ``np.savez``); missing
        folders are created. An existing file is replaced only by a fully verified new one.
    model : gradcore Layer
        Its parameters, buffers and optimizer state must be finite, its buffers real numeric
        arrays.
    optimizer : gradcore optimizer over ``model.parameters()``, or None
    extra : dict[str, Any] or None
        String keys; values are JSON-able (numbers incl. NumPy scalars, which are stored as
        Python numbers, strings, bools, None, lists, dicts with string keys, checked at every
        level: JSON would load ``{1: x}`` back as ``{"1": x}``; tuples load as lists) or real
        numeric NumPy arrays of any shape (bool/int/uint/float, non-finite values allowed).

    Raises ``TypeError``/``ValueError`` for bad arguments, :class:`CheckpointError` for
    content that cannot be stored, ``OSError`` from the file system; in every case an existing
    file at ``path`` is left byte-identical. See the module docstring.
    """
    path = _check_path("save", path)
    if path.is_dir():  # checked before the suffix: "ckpts/" must not become a sibling ckpts.npz
        raise IsADirectoryError(
            errno.EISDIR,
            "save: path is a folder; give a file name, e.g. folder/model.npz",
            str(path),
        )
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if not isinstance(model, Layer):
        raise TypeError(f"save: model must be a gradcore layer/model, got {describe(model)}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(
            f"save: extra must be a dict with string keys or None, got {describe(extra)}"
        )
    arena = model.parameters()
    if optimizer is not None:
        _check_optimizer("save", optimizer, arena)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "save: path is a folder, not a file", str(path))

    arrays: dict[str, np.ndarray] = {}
    for s in arena.segments:
        arrays[f"param/{s.name}"] = arena.param(s.name)
    buffers: dict[str, dict] = {}
    for name, buf in model.buffers.items():
        key = f"buffer/{name}"
        arrays[key] = _storable(key, buf, finite=True)
        buffers[name] = _spec_of(arrays[key])
    states = {p: layer.get_state() for p, layer in model.named_layers() if layer.get_state()}
    manifest: dict[str, Any] = {
        "format": "gradcore-checkpoint",
        "format_version": FORMAT_VERSION,
        "gradcore_version": __version__,
        "model": model.get_config(),
        "dtype": arena.dtype.name,
        "layout": [
            {"name": s.name, "shape": list(s.shape), "frozen": not s.requires_grad}
            for s in arena.segments
        ],
        "buffers": buffers,
        "layer_states": states,
        "optimizer": None,
        "extra": {},
        "extra_arrays": {},
    }
    if optimizer is not None:
        sd = optimizer.state_dict()
        opt_json = {k: v for k, v in sd.items() if k not in ("state", "steps")}
        opt_json["state_keys"] = sorted(sd["state"])
        for k, v in sd["state"].items():
            arrays[f"optim/{k}"] = np.asarray(v)
        arrays["optim_steps"] = np.asarray(sd["steps"], dtype=np.int64)
        manifest["optimizer"] = _jsonable(opt_json, "the optimizer's state_dict")
    for k, v in (extra or {}).items():
        if not isinstance(k, str):
            raise TypeError(f"save: extra keys must be strings, got {describe(k)}")
        if isinstance(v, np.ndarray):
            key = f"extra/{k}"
            arrays[key] = _storable(key, v, finite=False, what=f"extra[{k!r}]", error=TypeError)
            manifest["extra_arrays"][k] = _spec_of(arrays[key])
        else:
            _check_keys(v, f"extra[{k!r}]")
            manifest["extra"][k] = _jsonable(v, f"extra[{k!r}]")
    manifest = _jsonable(manifest, "the model's config and states")
    specs = _check_manifest("save", manifest)  # the same checks load makes: never write
    for key, arr in arrays.items():  # a file that load refuses
        _check_array(f"save: {key}", arr, specs[key])
    payload = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    if payload.size > _MAX_MANIFEST_BYTES:
        raise CheckpointError(
            f"save: the manifest (config, states, extra values) is {payload.size} bytes, "
            f"at most {_MAX_MANIFEST_BYTES} can be stored; store big values as extra arrays"
        )
    entries = {_MANIFEST: payload, **arrays}

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            _set_mode(f.fileno(), path)
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, arr in entries.items():
                    _write_entry(zf, name, arr)
            _flush(f)
            os.fsync(f.fileno())
        _verify(tmp, manifest, arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _storable(key: str, arr, *, finite: bool, what: str | None = None, error=CheckpointError):
    """``arr`` if a checkpoint can store it faithfully, else ``error`` before writing
    (CheckpointError for the model's content, TypeError for a user's ``extra`` value)."""
    what = what or key
    expected = f"a real numeric numpy.ndarray (bool, int, uint or float) of <= {_MAX_NDIM} dims"
    if (
        not isinstance(arr, np.ndarray)
        or arr.dtype.kind not in _NUMERIC_KINDS
        or arr.dtype.fields is not None
        or arr.ndim > _MAX_NDIM
    ):
        raise error(
            f"save: {what} must be {expected}, got {describe(arr)} (object, str, void and "
            "complex arrays cannot be stored without pickle or loss)"
        )
    if finite:
        _check_finite(f"save: {what}", arr)
    return arr


def _check_array(where: str, arr: np.ndarray, spec) -> None:
    """What save is about to write, against the spec load will check it with."""
    shape, dtype, finite = spec
    if dtype is not None and arr.dtype != dtype:
        raise CheckpointError(f"{where} has dtype {arr.dtype}, expected {dtype}")
    if shape is not None and arr.shape != shape:
        raise CheckpointError(f"{where} has shape {list(arr.shape)}, expected {list(shape)}")
    if finite:
        _check_finite(where, arr)


def _check_finite(where: str, arr: np.ndarray) -> None:
    if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise CheckpointError(f"{where} holds {bad} non-finite value(s) of {arr.size}")


def _spec_of(arr: np.ndarray) -> dict:
    return {"shape": list(arr.shape), "dtype": arr.dtype.str}


def _check_keys(value, what: str) -> None:
    """Every dict inside ``value`` has string keys: JSON would turn ``{1: x}`` into
    ``{"1": x}``, and ``load`` would hand back a different dict without a word."""
    stack = [(value, what, 0)]
    while stack:
        v, where, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            return  # _jsonable reports the depth
        if isinstance(v, dict):
            for key, item in v.items():
                if not isinstance(key, str):
                    raise TypeError(
                        f"save: {where} must have string keys at every level (JSON would "
                        f"load {describe(key)} back as the string {str(key)!r}), got the key "
                        f"{key!r}"
                    )
                stack.append((item, f"{where}[{key!r}]", depth + 1))
        elif isinstance(v, list | tuple):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(v))


def _jsonable(value, what: str):
    """``value`` round-tripped through JSON (NumPy scalars become Python numbers)."""

    def default(o):
        if isinstance(o, np.bool_ | np.integer | np.floating):
            return o.item()
        raise TypeError(f"{describe(o)} is not JSON-able")

    try:
        return json.loads(json.dumps(value, default=default))
    except RecursionError:
        raise ValueError(
            f"save: {what} must nest at most {_MAX_JSON_DEPTH} levels deep, got deeper"
        ) from None
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"save: {what} must be JSON-serialisable ({exc}); store arrays as "
            "NumPy arrays and other values as numbers, strings, lists or dicts"
        ) from None


def _set_mode(fd: int, target: Path) -> None:
    """Give the new file the old one's permissions (or the umask's), not mkstemp's 0600."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_UMASK
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _write_entry(zf: zipfile.ZipFile, name: str, arr: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w", force_zip64=arr.nbytes > (1 << 30)) as m:
        np.lib.format.write_array(m, np.asanyarray(arr), allow_pickle=False)


def _flush(f) -> None:
    f.flush()


def _verify(tmp: str, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    """Reopen the written file with load's reader and compare it with what was meant."""
    got_manifest, got = _read(tmp)
    if json.dumps(got_manifest) != json.dumps(manifest):  # as text: NaN != NaN
        raise CheckpointError(f"save: verification failed: {tmp} holds another manifest")
    for key, arr in arrays.items():
        back = got[key]
        if back.shape != arr.shape or back.dtype != arr.dtype or back.tobytes() != arr.tobytes():
            raise CheckpointError(f"save: verification failed: entry {key!r} reads back different")


def _fsync_dir(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # e.g. Windows: folders cannot be opened for fsync
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------ read
def _bad(path, detail: str) -> CheckpointError:
    if path == "save":  # save runs load's manifest checks before writing
        return CheckpointError(
            f"save: cannot store this checkpoint (load would refuse it): {detail}"
        )
    return CheckpointError(f"{path} is not a readable gradcore checkpoint: {detail}")


def _read(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The validated manifest and every entry, each checked against the manifest."""
    with open(path, "rb") as fh:  # FileNotFoundError, IsADirectoryError, PermissionError
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise _bad(path, "the file is empty")
        head = fh.read(len(_NPY_MAGIC))
        fh.seek(0)
        if head == _NPY_MAGIC:
            raise _bad(path, "it is a plain .npy array, not a checkpoint (.npz zip)")
        try:
            zf = zipfile.ZipFile(fh)
        except Exception as exc:  # zipfile raises many types on garbage
            raise _bad(path, f"not a zip file ({type(exc).__name__}: {exc})") from None
        with zf:
            return _read_zip(path, zf, size)


def _read_zip(path, zf: zipfile.ZipFile, size: int):
    infos = zf.infolist()
    if len(infos) > _MAX_ENTRIES:
        raise _bad(path, f"{len(infos)} zip members, at most {_MAX_ENTRIES}")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy"):
            raise _bad(path, f"unexpected zip member {name!r} (not an .npy array)")
        key = name[: -len(".npy")]
        if key in members:
            raise _bad(path, f"zip member {name!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise _bad(path, f"entry {key!r} is compressed or encrypted (checkpoints are not)")
        if info.file_size != info.compress_size or info.header_offset + info.file_size > size:
            raise _bad(path, f"entry {key!r} claims {info.file_size} bytes, more than the file")
        members[key] = info
    if _MANIFEST not in members:
        raise _bad(path, f"no {_MANIFEST}: not a gradcore checkpoint")
    info = members.pop(_MANIFEST)
    if info.file_size > _MAX_MANIFEST_BYTES + 4096:
        raise _bad(path, f"{_MANIFEST} is {info.file_size} bytes, at most {_MAX_MANIFEST_BYTES}")
    raw = _read_entry(path, zf, info, _MANIFEST, (None, np.dtype(np.uint8), False))
    if raw.ndim != 1:
        raise _bad(path, f"{_MANIFEST} must be a 1-D uint8 array, got shape {raw.shape}")
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except RecursionError:
        raise _bad(path, f"{_MANIFEST} is nested deeper than {_MAX_JSON_DEPTH}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"{_MANIFEST} is not valid JSON ({exc})") from None
    specs = _check_manifest(path, manifest)
    missing = sorted(set(specs) - set(members))
    if missing:
        raise _bad(path, f"entry {missing[0]!r} is missing (truncated or edited file?)")
    unexpected = sorted(set(members) - set(specs))
    if unexpected:
        raise _bad(path, f"entry {unexpected[0]!r} is not in the manifest")
    arrays = {}
    for key, spec in specs.items():
        arr = _read_entry(path, zf, members[key], key, spec)
        if spec[2]:
            _check_finite(f"{path}: entry {key!r}", arr)
        arrays[key] = arr
    return manifest, arrays


def _read_entry(path, zf, info, key: str, spec) -> np.ndarray:
    """One ``.npy`` member: header checked against ``spec`` = (shape or None, dtype or None,
    finite) and against the member's size BEFORE the data is read; then data and CRC."""
    want_shape, want_dtype, _ = spec
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            header = f.tell()
            _check_header(path, key, shape, dtype, want_shape, want_dtype)
            nbytes = math.prod(shape) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise _bad(
                    path,
                    f"entry {key!r} claims shape {list(shape)} of {dtype} ({nbytes} bytes) but "
                    f"holds {info.file_size - header} bytes",
                )
            data = f.read(nbytes)
            if len(data) != nbytes or f.read(1):  # reading to the end checks the CRC
                raise _bad(path, f"entry {key!r} is truncated")
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile (BadZipFile: CRC), numpy header parsing, EOF, ...
        raise _bad(path, f"entry {key!r} is corrupt ({type(exc).__name__}: {exc})") from None
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return np.array(arr, order="C")  # a writable, C-contiguous copy


def _check_header(path, key, shape, dtype, want_shape, want_dtype) -> None:
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS or dtype.fields:
        raise _bad(path, f"entry {key!r} has dtype {dtype}, not a real numeric dtype")
    if want_dtype is not None and dtype != want_dtype:
        raise _bad(path, f"entry {key!r} has dtype {dtype.str}, the manifest says {want_dtype.str}")
    if len(shape) > _MAX_NDIM:
        raise _bad(path, f"entry {key!r} has {len(shape)} dimensions, at most {_MAX_NDIM}")
    if want_shape is not None and tuple(shape) != tuple(want_shape):
        raise _bad(
            path, f"entry {key!r} has shape {list(shape)}, the manifest says {list(want_shape)}"
        )


# -------------------------------------------------------------------- manifest validation
def _check_manifest(path, m) -> dict[str, tuple]:
    """Validate the manifest's schema (iteratively, bounded) and return the entry specs:
    ``{key: (shape or None, dtype or None, must_be_finite)}``."""

    def fail(where: str, expected: str, got) -> CheckpointError:
        return _bad(path, f"manifest{where} must be {expected}, got {describe(got)}")

    if not isinstance(m, dict):
        raise fail("", "a JSON object", m)
    _check_depth(path, m)
    for k in ("format", "format_version", "model", "dtype", "layout", "buffers"):
        if k not in m:
            raise _bad(path, f"manifest has no {k!r} key")
    if m["format"] != "gradcore-checkpoint":
        raise fail("['format']", "'gradcore-checkpoint'", m["format"])
    version = m["format_version"]
    if isinstance(version, bool) or version not in _READS:
        raise _bad(
            path,
            f"checkpoint format version {version!r}, this gradcore reads {list(_READS)}",
        )
    if m["dtype"] not in _FLOAT_NAMES:
        raise fail("['dtype']", "'float32' or 'float64'", m["dtype"])
    dtype = np.dtype(m["dtype"])
    specs: dict[str, tuple] = {}
    layout = m["layout"]
    if not isinstance(layout, list):
        raise fail("['layout']", "a list", layout)
    total = 0
    for i, e in enumerate(layout):
        where = f"['layout'][{i}]"
        if not isinstance(e, dict):
            raise fail(where, "an object", e)
        if not isinstance(e.get("name"), str):
            raise fail(where + "['name']", "a string", e.get("name"))
        shape = _shape(path, where + "['shape']", e.get("shape"), fail)
        if not isinstance(e.get("frozen", False), bool):
            raise fail(where + "['frozen']", "true or false", e.get("frozen"))
        key = f"param/{e['name']}"
        if key in specs:
            raise _bad(path, f"manifest['layout'] names {e['name']!r} twice")
        specs[key] = (shape, dtype, True)
        total += math.prod(shape)
    _check_layer_tree(path, m["model"], total)
    specs.update(_array_specs(path, m, "buffers", "buffer", version, True, fail))
    states = m.get("layer_states", {})
    if not isinstance(states, dict) or not all(isinstance(v, dict) for v in states.values()):
        raise fail("['layer_states']", "an object of objects", states)
    opt = m.get("optimizer")
    if opt is not None:
        if not isinstance(opt, dict):
            raise fail("['optimizer']", "an object or null", opt)
        if not isinstance(opt.get("type"), str):
            raise fail("['optimizer']['type']", "a string", opt.get("type"))
        if not isinstance(opt.get("hyper", {}), dict):
            raise fail("['optimizer']['hyper']", "an object", opt.get("hyper"))
        keys = opt.get("state_keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise fail("['optimizer']['state_keys']", "a list of strings", keys)
        if len(set(keys)) != len(keys):
            raise _bad(path, "manifest['optimizer']['state_keys'] names a state twice")
        for k in keys:
            specs[f"optim/{k}"] = ((total,), dtype, True)
        specs["optim_steps"] = ((len(layout),), np.dtype(np.int64), True)
    extra = m.get("extra", {})
    if not isinstance(extra, dict):
        raise fail("['extra']", "an object", extra)
    extra_specs = _array_specs(path, m, "extra_arrays", "extra", version, False, fail)
    both = sorted(set(extra) & {k[len("extra/") :] for k in extra_specs})
    if both:
        raise _bad(path, f"manifest has extra {both[0]!r} both as a value and as an array")
    specs.update(extra_specs)
    if len(specs) > _MAX_ENTRIES:
        raise _bad(path, f"manifest names {len(specs)} entries, at most {_MAX_ENTRIES}")
    return specs


def _shape(path, where, shape, fail) -> tuple[int, ...]:
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise fail(where, f"a list of at most {_MAX_NDIM} integers >= 0", shape)
    return tuple(shape)


def _array_specs(path, m, field_name, prefix, version, finite, fail) -> dict[str, tuple]:
    """Specs of the buffer / extra-array entries: ``{name: {"shape", "dtype"}}`` (format 2)
    or a list of names whose shape and dtype the file does not record (format 1)."""
    value = m.get(field_name, {} if version >= 2 else [])
    out: dict[str, tuple] = {}
    if version == 1:
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            raise fail(f"[{field_name!r}]", "a list of strings", value)
        for k in value:
            out[f"{prefix}/{k}"] = (None, None, finite)
        return out
    if not isinstance(value, dict):
        raise fail(f"[{field_name!r}]", "an object", value)
    for k, spec in value.items():
        where = f"[{field_name!r}][{k!r}]"
        if not isinstance(spec, dict):
            raise fail(where, "an object with 'shape' and 'dtype'", spec)
        shape = _shape(path, where + "['shape']", spec.get("shape"), fail)
        out[f"{prefix}/{k}"] = (shape, _spec_dtype(spec.get("dtype"), where, fail), finite)
    return out


def _spec_dtype(s, where, fail) -> np.dtype:
    expected = "a real numeric dtype string such as '<f4'"
    if not isinstance(s, str) or len(s) > 8:
        raise fail(where + "['dtype']", expected, s)
    try:
        dt = np.dtype(s)
    except Exception:  # np.dtype raises TypeError/ValueError/SyntaxError on odd strings
        raise fail(where + "['dtype']", expected, s) from None
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.str != s:
        raise fail(where + "['dtype']", expected, s)
    return dt


def _check_depth(path, m) -> None:
    """JSON nesting of the whole manifest, iteratively (the config is walked later)."""
    stack = [(m, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_JSON_DEPTH:
            raise _bad(path, f"the manifest is nested deeper than {_MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _check_layer_tree(path, root, total: int) -> dict[int, str]:
    """Walk the layer config tree iteratively: every layer node is an object naming a
    registered Layer class; depth and size are bounded. Returns ``{id(node): where}``.

    Allocation is bounded too: the size arguments of gradcore's own layers (``_SIZE_ARGS``)
    have a product that is at most the layer's parameter count (Dense ``in*out`` = W,
    BatchNorm/LayerNorm ``n`` = gamma, LSTM ``D*H`` <= Wx), so their sum over the model may
    not exceed ``total``, the number of parameter values in the layout (whose entries are
    checked against the file's bytes): a lying config cannot make ``load`` allocate more than
    a few times the file's size. (A user-defined layer's constructor gets the file's
    arguments unbounded: it is the user's code.)
    """
    where_of: dict[int, str] = {}
    asked = 0
    stack = [(root, "['model']", 1)]
    while stack:
        node, where, depth = stack.pop()
        if depth > _MAX_LAYER_DEPTH:
            raise _bad(
                path, f"the model config nests layers deeper than {_MAX_LAYER_DEPTH} (at {where})"
            )
        if len(where_of) >= _MAX_LAYERS:
            raise _bad(path, f"the model config has more than {_MAX_LAYERS} layers")
        if not isinstance(node, dict) or not isinstance(node.get("class"), str):
            raise _bad(
                path,
                f"manifest{where} must be a layer config (an object with a 'class' name), "
                f"got {describe(node)}",
            )
        name = node["class"]
        cls = LAYER_TYPES.get(name)
        if cls is None:
            raise _bad(
                path,
                f"manifest{where}: unknown layer class {name!r}; known: {sorted(LAYER_TYPES)} "
                "(define or import a custom layer class before loading)",
            )
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise _bad(path, f"manifest{where}: class {name!r} is not a gradcore Layer")
        if "args" in node and not isinstance(node["args"], dict):
            raise _bad(
                path, f"manifest{where}['args'] must be an object, got {describe(node['args'])}"
            )
        where_of[id(node)] = where
        if cls.__module__.startswith("gradcore.") and isinstance(node.get("args"), dict):
            sizes = [
                v
                for k, v in node["args"].items()
                if k in _SIZE_ARGS and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            ]
            if sizes:
                asked += math.prod(sizes)
                if asked > total:
                    raise _bad(
                        path,
                        f"manifest{where} ({name}) asks for sizes {sizes}: the model config "
                        f"needs more than the {total} parameter values the layout holds",
                    )
        for k, v in node.items():
            if k in ("class", "args"):
                continue
            if isinstance(v, dict):
                stack.append((v, f"{where}[{k!r}]", depth + 1))
            elif isinstance(v, list):
                stack.extend(
                    (c, f"{where}[{k!r}][{i}]", depth + 1)
                    for i, c in enumerate(v)
                    if isinstance(c, dict)
                )
    return where_of


def _build_model(path, manifest) -> Layer:
    """``layer_from_config`` on a validated tree; any error a constructor raises on the
    file's arguments becomes a CheckpointError naming the layer's place in the config."""
    config = manifest["model"]
    total = sum(math.prod(e["shape"]) for e in manifest["layout"])
    where_of = _check_layer_tree(path, config, total)
    try:
        model = layer_from_config(config)
    except Exception as exc:  # constructors raise TypeError/ValueError/KeyError/MemoryError...
        where = "['model']"
        tb, frames = exc.__traceback__, []
        while tb is not None:
            if tb.tb_frame.f_code is layer_from_config.__code__:
                frames.append(tb.tb_frame.f_locals.get("config"))
            tb = tb.tb_next
        for cfg in reversed(frames):  # the innermost config the file names
            if id(cfg) in where_of:
                where = where_of[id(cfg)]
                break
        del frames, tb
        raise _bad(
            path, f"the layer at manifest{where} cannot be built ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(model, Layer):
        raise _bad(path, f"manifest['model'] built a {type(model).__name__}, not a gradcore Layer")
    return model


# ------------------------------------------------------------------------------------ load
def load(path, model: Layer | None = None, optimizer=None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, verifying all of it (module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file (no suffix is added).
    model : gradcore Layer or None
        ``None``: the model is rebuilt from the saved config. Given: its parameters, buffers,
        layer states and frozen flags are overwritten in place after checking that tensor
        names, shapes and dtype and buffer names, shapes and dtypes match (else
        :class:`CheckpointError` naming the tensor; the model is then unchanged).
    optimizer : gradcore optimizer over ``model.parameters()``, or None
        Given: the file's optimizer state is loaded into it (type and layout checked; a
        file without optimizer state leaves it as it is).
        ``None`` and the file has optimizer state: one is rebuilt (same class from
        ``gradcore.optim`` and hyper-parameters) on the model's parameters.

    Returns a :class:`Checkpoint`. Parameter and state values round-trip bit-exactly.
    Raises :class:`CheckpointError` for anything wrong in the file, ``FileNotFoundError`` /
    ``IsADirectoryError`` / other ``OSError`` from opening it, ``TypeError``/``ValueError``
    for bad arguments.
    """
    path = _check_path("load", path)
    if model is not None and not isinstance(model, Layer):
        raise TypeError(
            f"load: model must be a gradcore layer/model or None, got {describe(model)}"
        )
    if optimizer is not None:
        if model is None:
            raise ValueError(
                "load: optimizer must come with the model it optimizes (pass model= too), "
                "got an optimizer without a model"
            )
        _check_optimizer("load", optimizer, model.parameters())
    manifest, arrays = _read(path)
    given = model is not None
    if model is None:
        model = _build_model(path, manifest)
    arena = model.parameters()
    _check_layout(path, manifest, arena)
    buffers = model.buffers
    file_buffers = sorted(k[len("buffer/") :] for k in arrays if k.startswith("buffer/"))
    if sorted(buffers) != file_buffers:
        raise CheckpointError(
            f"{path}: buffers differ: file has {file_buffers}, model has {sorted(buffers)}"
        )
    for name, buf in buffers.items():
        src = arrays[f"buffer/{name}"]
        if src.shape != buf.shape or src.dtype != buf.dtype:
            raise CheckpointError(
                f"{path}: buffer {name!r} is {list(src.shape)} {src.dtype} in the file, "
                f"{list(buf.shape)} {buf.dtype} in the model"
            )
    layers = dict(model.named_layers())
    states = manifest.get("layer_states", {})
    for p in states:
        if p not in layers:
            raise CheckpointError(f"{path}: manifest['layer_states'] names unknown layer {p!r}")
    opt_meta = manifest.get("optimizer")
    if opt_meta is not None and optimizer is None:
        optimizer = _build_optimizer(path, opt_meta, arena)

    undo = _snapshot(model, arena, optimizer) if given else None
    try:
        for s in arena.segments:
            arena.param(s.name)[...] = arrays[f"param/{s.name}"]
        for name, buf in buffers.items():
            buf[...] = arrays[f"buffer/{name}"]
        for p, state in states.items():
            try:
                layers[p].set_state(state)
            except Exception as exc:  # e.g. a generator state of the wrong form
                raise CheckpointError(
                    f"{path}: manifest['layer_states'][{p!r}] does not fit "
                    f"{type(layers[p]).__name__} ({type(exc).__name__}: {exc})"
                ) from None
        # frozen flags travel with the model (the arena's segments are in model order)
        owners = [(la, key) for _, la in model.named_layers() for key in la.own_params()]
        for s, (layer, key) in zip(arena.segments, owners, strict=True):
            frozen = manifest["layout"][s.index].get("frozen", False)
            (layer.frozen.add if frozen else layer.frozen.discard)(key)
        if opt_meta is not None:
            _load_optimizer(path, opt_meta, arrays, optimizer)
    except BaseException:
        if undo is not None:
            undo()
        raise
    extra = dict(manifest.get("extra", {}))
    for k in arrays:
        if k.startswith("extra/"):
            extra[k[len("extra/") :]] = arrays[k]
    return Checkpoint(model=model, optimizer=optimizer, extra=extra, manifest=manifest)


def _snapshot(model, arena, optimizer):
    """A function that puts the given model (and optimizer) back as they are now."""
    data = arena.data.copy()
    buffers = {k: v.copy() for k, v in model.buffers.items()}
    states = {p: layer.get_state() for p, layer in model.named_layers()}
    frozen = {p: set(layer.frozen) for p, layer in model.named_layers()}
    opt_sd = optimizer.state_dict() if optimizer is not None else None

    def undo() -> None:
        arena.data[...] = data
        live = model.buffers
        for k, v in buffers.items():
            live[k][...] = v
        for p, layer in model.named_layers():
            if states.get(p):
                layer.set_state(states[p])
            layer.frozen.clear()
            layer.frozen.update(frozen.get(p, ()))
        if opt_sd is not None:
            optimizer.load_state_dict(opt_sd)

    return undo


def _check_layout(path, manifest, arena) -> None:
    if manifest["dtype"] != arena.dtype.name:
        raise CheckpointError(
            f"{path}: parameters are {manifest['dtype']} in the file, "
            f"{arena.dtype.name} in the model"
        )
    saved = [(e["name"], tuple(e["shape"])) for e in manifest["layout"]]
    have = [(s.name, tuple(s.shape)) for s in arena.segments]
    if saved != have:
        for (n1, s1), (n2, s2) in zip(saved, have, strict=False):
            if (n1, s1) != (n2, s2):
                raise CheckpointError(
                    f"{path}: model does not match: file has {n1} {s1}, model has {n2} {s2}"
                )
        raise CheckpointError(
            f"{path}: model does not match: file has {len(saved)} tensors, model has {len(have)}"
        )


def _build_optimizer(path, meta, arena):
    optim = _optim_module()
    name = meta["type"]
    cls = getattr(optim, name, None) if not name.startswith("_") else None
    if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)) or cls is optim.Optimizer:
        raise CheckpointError(f"{path}: manifest['optimizer']['type']: unknown optimizer {name!r}")
    try:
        return cls(arena, **meta.get("hyper", {}))
    except Exception as exc:  # the file's hyper-parameters are refused by the constructor
        raise CheckpointError(
            f"{path}: manifest['optimizer']['hyper'] does not build {name} "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _load_optimizer(path, meta, arrays, optimizer) -> None:
    sd = {k: v for k, v in meta.items() if k != "state_keys"}
    sd["state"] = {k: arrays[f"optim/{k}"] for k in meta.get("state_keys", [])}
    sd["steps"] = arrays["optim_steps"]
    try:
        optimizer.load_state_dict(sd)
    except Exception as exc:  # load_state_dict validates before it changes anything
        raise CheckpointError(
            f"{path}: optimizer state does not fit ({type(exc).__name__}: {exc})"
        ) from None
