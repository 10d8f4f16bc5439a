"""MNIST from a local copy, in either usual format; gradcore never downloads it.

Formats (both are read with NumPy only, every header checked before any data is read):

- Keras' ``mnist.npz``: members ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 images
  ``[n, 28, 28]``, integer labels ``[n]``), opened with ``np.load(..., allow_pickle=False)``.
- The four IDX files of LeCun's site, as torchvision keeps them in ``MNIST/raw/``:
  ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``). An IDX file is a big-endian
  magic number (two zero bytes, a type byte, 0x08 = uint8, and the number of dimensions: 3 for
  images, 1 for labels), the dimensions as big-endian uint32, then the bytes, row-major.

With ``path=None``, :func:`mnist` searches six places (its docstring lists them), each of which
may hold ``mnist.npz``, the four IDX files, or ``MNIST/raw/`` with them. Malformed content
raises :class:`ValueError` naming the file and the problem; a missing dataset raises
:class:`DatasetNotFound` (a :class:`FileNotFoundError`) listing where it looked.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .._args import describe
from ._checks import check_bool, check_int

__all__ = ["DatasetNotFound", "MNISTData", "mnist"]

_OWNER = "mnist"
_SIDE = 28
_CLASSES = 10
_NPZ = "mnist.npz"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_IDX = (  # in the order of the returned arrays
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_UINT8 = 0x08
_TYPE_NAMES = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
# A header is checked against this before anything is allocated: MNIST's largest array is
# 47 MB (60000 x 28 x 28 bytes), EMNIST's 'byclass' split 547 MB; a header or a zip member
# claiming more than 1 GiB is corrupt or hostile (a .gz or a compressed member would otherwise
# be decompressed until memory runs out).
_MAX_BYTES = 1 << 30
_CHUNK = 1 << 20


class DatasetNotFound(FileNotFoundError):
    """No local copy of a dataset: ``searched`` lists every place looked at (``str`` each)."""

    def __init__(self, message: str, searched: list[str]):
        super().__init__(message)
        self.searched = searched


class MNISTData(tuple):
    """``(X_train, y_train, X_test, y_test)``, a plain 4-tuple to unpack, plus where it came
    from: ``source`` (the absolute ``Path`` of the ``.npz`` file or of the IDX folder) and
    ``format`` (``"npz"`` or ``"idx"``)."""

    source: Path
    format: str

    def __new__(cls, arrays, source: Path | None = None, fmt: str | None = None):
        # Defaults: pickle and copy call __new__(cls, tuple(self)), then restore __dict__.
        self = super().__new__(cls, arrays)
        self.source = source
        self.format = fmt
        return self


def mnist(
    path: str | os.PathLike | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    flatten: bool = True,
    scale: bool = True,
) -> MNISTData:
    """The MNIST handwritten digits (LeCun et al. 1998) from a local file: 60000 training and
    10000 test images of 28x28 pixels, 10 classes, in the files' own (fixed) split and order.

    Reads Keras' ``mnist.npz`` or the four IDX files (plain or ``.gz``, torchvision's
    ``MNIST/raw/``); never downloads and never writes. With ``path=None`` it searches, in this
    order, and takes the first place holding a complete copy:

    1. ``$GRADCORE_DATA``, when set: a file or folder, read as ``path`` would be;
    2. ``./data`` (torchvision's ``root="data"``: ``./data/MNIST/raw``);
    3. ``.``, the current folder (``./mnist.npz``, ``./MNIST/raw``);
    4. ``$KERAS_HOME/datasets``, default ``~/.keras/datasets`` (where Keras'
       ``mnist.load_data()`` keeps ``mnist.npz``);
    5. ``$XDG_CACHE_HOME/gradcore``, default ``~/.cache/gradcore``;
    6. ``~/data``.

    Each place may hold ``mnist.npz``, the four IDX files, or ``MNIST/raw/`` with them (tried
    in that order; an uncompressed IDX file is preferred to its ``.gz``). The result's
    ``source`` says which file or folder was read. Relative places are relative to the current
    folder at the time of the call.

    Parameters
    ----------
    path : str, os.PathLike or None
        A ``.npz`` file, a folder holding the IDX files or ``mnist.npz``, or a folder holding
        ``MNIST/raw/``. Only that place is read (no search).
    n_train, n_test : int >= 1 or None
        Keep only the first ``n_train`` training / ``n_test`` test examples (the files' order;
        MNIST's is not sorted by class, so a prefix holds every class in similar shares);
        ``None`` keeps all. More than the file holds is a ``ValueError``. The whole file is
        still read and checked.
    flatten : bool
        ``True``: images as rows of 784 pixels (row-major); ``False``: as ``[n, 28, 28]``.
    scale : bool
        Divide the pixel values (integers 0..255) by 255, giving ``[0, 1]``.

    Returns
    -------
    X_train : ndarray, float64, shape ``[n_train, 784]`` (``[n_train, 28, 28]`` if not ``flatten``)
    y_train : ndarray, int64, shape ``[n_train]``, labels 0..9
    X_test : ndarray, float64, shape ``[n_test, 784]`` (``[n_test, 28, 28]`` if not ``flatten``)
    y_test : ndarray, int64, shape ``[n_test]``
        New C-contiguous arrays, returned in an :class:`MNISTData`: a plain 4-tuple with the
        attributes ``source`` (the ``pathlib.Path`` read: the ``.npz`` file or the IDX folder)
        and ``format`` (``"npz"`` or ``"idx"``).

    Raises
    ------
    DatasetNotFound
        (a ``FileNotFoundError``) if no complete copy is found; the message lists every place
        looked at, what each held, and where to put a file in which format.
    ValueError
        If a file is malformed: wrong magic number, type code or number of dimensions, images
        not 28x28, truncated data or trailing bytes (with the expected and found byte counts),
        a header claiming more than 1 GiB, labels outside 0..9, image and label counts that
        differ, an ``.npz`` missing a key or holding an object (pickled) array, a corrupt
        ``.gz`` or zip archive. The message names the file (both files for a count mismatch)
        and the problem.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"{_OWNER}: path must be a str, an os.PathLike or None, got {describe(path)}"
        )
    if n_train is not None:
        n_train = check_int("n_train", n_train, 1, _OWNER)
    if n_test is not None:
        n_test = check_int("n_test", n_test, 1, _OWNER)
    flatten = check_bool("flatten", flatten, owner=_OWNER)
    scale = check_bool("scale", scale, owner=_OWNER)

    fmt, source, files = _locate(path)
    raw = _read_npz(files[0]) if fmt == "npz" else [_read_idx(f) for f in files]
    if fmt == "npz":
        names = [f"{files[0]} [{key}]" for key in _NPZ_KEYS]
    else:
        names = [str(f) for f in files]
    out = []
    for split, limit, (images, labels), (img_name, lab_name) in (
        ("n_train", n_train, raw[0:2], names[0:2]),
        ("n_test", n_test, raw[2:4], names[2:4]),
    ):
        _check_pair(images, labels, img_name, lab_name)
        n = len(images)
        if limit is not None and limit > n:
            raise ValueError(
                f"{_OWNER}: {split} must be an integer in [1, {n}] ({img_name} holds {n} "
                f"images), got {limit}"
            )
        k = n if limit is None else limit
        X = images[:k].astype(np.float64)  # a new C-contiguous array
        if scale:
            X /= 255.0
        if flatten:
            X = X.reshape(k, _SIDE * _SIDE)
        out += [X, labels[:k].astype(np.int64)]
    return MNISTData(out, source, fmt)


# ------------------------------------------------------------------------------------ search
def _places() -> list[tuple[str, Path]]:
    """(how the place is named in messages, path) in search order; read at each call."""
    env, home = os.environ, Path.home()

    def var(name: str, default: Path, label: str) -> tuple[str, Path]:
        if env.get(name):
            return f"${name}", Path(env[name]).expanduser()
        return label, default

    places = []
    if env.get("GRADCORE_DATA"):  # a file or a folder, read as path= would be
        places.append(("$GRADCORE_DATA", Path(env["GRADCORE_DATA"]).expanduser()))
    places += [("./data", Path("data")), (".", Path("."))]
    label, keras = var("KERAS_HOME", home / ".keras", "~/.keras")
    places.append((f"{label}/datasets", keras / "datasets"))
    label, cache = var("XDG_CACHE_HOME", home / ".cache", "~/.cache")
    places.append((f"{label}/gradcore", cache / "gradcore"))
    places.append(("~/data", home / "data"))
    return places


def _idx_files(folder: Path) -> tuple[list[Path] | None, list[str]]:
    """The four IDX files in ``folder`` (plain preferred to .gz), or None and the names found."""
    found, names = [], []
    for stem in _IDX:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                found.append(folder / name)
                names.append(name)
                break
    return (found if len(found) == len(_IDX) else None), names


def _probe(place: Path) -> tuple[tuple[str, Path, list[Path]] | None, str]:
    """A complete copy at ``place`` as (format, source, files), or None and what was there."""
    if place.is_file():
        if place.name.removesuffix(".gz") in _IDX:
            raise ValueError(
                f"{_OWNER}: {place} is one of the four IDX files; pass the folder that holds "
                f"all four ({', '.join(_IDX)}, each optionally .gz)"
            )
        return ("npz", place.resolve(), [place.resolve()]), ""
    if not place.is_dir():
        return None, "does not exist"
    if (place / _NPZ).is_file():
        npz = (place / _NPZ).resolve()
        return ("npz", npz, [npz]), ""
    partial = []
    for folder, where in ((place, ""), (place / "MNIST" / "raw", " in MNIST/raw/")):
        files, names = _idx_files(folder)
        if files is not None:
            return ("idx", folder.resolve(), [f.resolve() for f in files]), ""
        if names:
            partial.append(f"only {len(names)} of the 4 IDX files{where} ({', '.join(names)})")
    return None, "; ".join(partial) or f"no {_NPZ}, no IDX files, no MNIST/raw/"


def _locate(path) -> tuple[str, Path, list[Path]]:
    if path is not None:
        place = Path(os.fspath(path)).expanduser()
        found, held = _probe(place)
        if found is None:
            raise DatasetNotFound(
                f"{_OWNER}: no MNIST copy at path={os.fspath(path)!r} ({place.absolute()}): "
                f"{held}. {_WHAT_TO_PUT} there, or pass path=None to search the usual places "
                "(gradcore never downloads).",
                [f"{place.absolute()}: {held}"],
            )
        return found
    searched = []
    for label, place in _places():
        found, held = _probe(place)
        if found is not None:
            return found
        shown = f"{label} = {place.absolute()}"
        searched.append(f"{shown}: {held}")
    if not os.environ.get("GRADCORE_DATA"):
        searched.insert(0, "$GRADCORE_DATA: not set")
    listing = "\n".join(f"  {i}. {s}" for i, s in enumerate(searched, 1))
    raise DatasetNotFound(
        f"{_OWNER}: no local copy of MNIST found (gradcore never downloads). Looked in, in "
        f"order:\n{listing}\n{_WHAT_TO_PUT} in one of these places, or pass path= (a .npz file "
        "or a folder), or set GRADCORE_DATA to one.",
        searched,
    )


_WHAT_TO_PUT = (
    f"Put Keras' {_NPZ} (arrays x_train, y_train, x_test, y_test; e.g. as "
    f"~/.keras/datasets/{_NPZ}) or the four IDX files ({', '.join(_IDX)}, each may be .gz; "
    "e.g. in ./data/MNIST/raw/ as torchvision keeps them)"
)


# ------------------------------------------------------------------------------------ checks
def _bad(name, detail: str) -> ValueError:
    return ValueError(f"{_OWNER}: {name}: {detail}")


def _check_pair(images: np.ndarray, labels: np.ndarray, img_name: str, lab_name: str) -> None:
    if len(images) == 0:
        raise _bad(img_name, "holds no images")
    if len(images) != len(labels):
        raise ValueError(
            f"{_OWNER}: image and label counts differ: {img_name} holds {len(images)} images, "
            f"{lab_name} holds {len(labels)} labels"
        )
    bad = np.flatnonzero((labels < 0) | (labels >= _CLASSES))
    if bad.size:
        i = int(bad[0])
        raise _bad(
            lab_name,
            f"label {int(labels[i])} at index {i} ({bad.size} labels in all) is outside 0..9",
        )


def _check_image_dims(name, dims) -> None:
    if tuple(dims[1:]) != (_SIDE, _SIDE):
        raise _bad(name, f"images are {_shown(dims[1:])} pixels, MNIST's are {_SIDE}x{_SIDE}")


# ------------------------------------------------------------------------------------ IDX
def _read_idx(file: Path) -> np.ndarray:
    """One IDX file as a read-only uint8 array of its header's shape."""
    images = "images" in file.name
    if file.name.endswith(".gz"):
        with open(file, "rb") as raw:  # FileNotFoundError, PermissionError pass through
            try:
                with gzip.GzipFile(fileobj=raw) as f:
                    return _read_idx_stream(f, file, images, None)
            except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise _bad(file, f"corrupt gzip data ({type(exc).__name__}: {exc})") from None
    with open(file, "rb") as f:
        return _read_idx_stream(f, file, images, os.fstat(f.fileno()).st_size)


def _read_exact(f, n: int) -> bytes:
    """Up to ``n`` bytes, read in chunks: memory grows with what is there, not with ``n``."""
    parts, got = [], 0
    while got < n:
        part = f.read(min(_CHUNK, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_idx_stream(f, file: Path, images: bool, size: int | None) -> np.ndarray:
    want_ndim, want_magic = (3, 0x0803) if images else (1, 0x0801)
    kind = "images" if images else "labels"
    head = _read_exact(f, 4)
    if len(head) < 4:
        raise _bad(file, f"truncated: {len(head)} bytes, an IDX header needs at least 4")
    magic = int.from_bytes(head, "big")
    if head[:2] != b"\0\0":
        raise _bad(
            file,
            f"not an IDX file: magic number 0x{magic:08X}, expected 0x{want_magic:08X} "
            f"(IDX {kind})",
        )
    if head[2] != _UINT8:
        got = _TYPE_NAMES.get(head[2], "unknown")
        raise _bad(
            file,
            f"IDX type code 0x{head[2]:02X} ({got}), expected 0x{_UINT8:02X} (uint8) "
            f"(magic 0x{magic:08X}, expected 0x{want_magic:08X})",
        )
    if head[3] != want_ndim:
        raise _bad(
            file,
            f"{head[3]} dimensions in the IDX header, expected {want_ndim} for {kind} "
            f"(magic 0x{magic:08X}, expected 0x{want_magic:08X})",
        )
    header = 4 + 4 * want_ndim
    raw_dims = _read_exact(f, 4 * want_ndim)
    if len(raw_dims) < 4 * want_ndim:
        raise _bad(file, f"truncated header: {4 + len(raw_dims)} bytes, the header needs {header}")
    dims = [int.from_bytes(raw_dims[i : i + 4], "big") for i in range(0, 4 * want_ndim, 4)]
    if images:
        _check_image_dims(file, dims)
    nbytes = math.prod(dims)
    shape = _shown(dims)
    if nbytes > _MAX_BYTES:
        raise _bad(
            file,
            f"the header claims {shape} = {nbytes} bytes, more than the limit of "
            f"{_MAX_BYTES} (1 GiB): corrupt",
        )
    if size is not None and size - header != nbytes:
        raise _bad(file, _length_detail(size - header, nbytes, shape))
    data = _read_exact(f, nbytes)
    if len(data) < nbytes:
        raise _bad(file, _length_detail(len(data), nbytes, shape))
    extra = _count_rest(f, _MAX_BYTES - nbytes)  # reading to the end checks a .gz's CRC
    if extra:
        raise _bad(file, _length_detail(nbytes + extra, nbytes, shape))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _count_rest(f, limit: int) -> int:
    """How many bytes are left (stops counting past ``limit``), without keeping them."""
    n = 0
    while n <= limit:
        part = f.read(_CHUNK)
        if not part:
            break
        n += len(part)
    return n


def _shown(shape) -> str:
    return "x".join(str(d) for d in shape)


def _length_detail(found: int, expected: int, shape: str) -> str:
    what = "truncated" if found < expected else "trailing bytes"
    return (
        f"{what}: {found} data bytes after the header, the header's dimensions {shape} need "
        f"exactly {expected}"
    )


# ------------------------------------------------------------------------------------ npz
_NPY_MAGIC = b"\x93NUMPY"


def _read_npz(file: Path) -> list[np.ndarray]:
    """The four arrays of a Keras-style ``mnist.npz``, each header checked before its data."""
    with open(file, "rb") as fh:  # FileNotFoundError, PermissionError pass through
        head = fh.read(len(_NPY_MAGIC))
        fh.seek(0)
        if head == _NPY_MAGIC:
            raise _bad(file, "a single .npy array, not an .npz archive of the four arrays")
        if not head.startswith(b"PK"):
            raise _bad(file, f"not an .npz (zip) archive (starts with {head[:4]!r})")
        try:
            npz = np.load(fh, allow_pickle=False)
        except Exception as exc:  # zipfile raises many types on garbage
            raise _bad(file, f"corrupt .npz archive ({type(exc).__name__}: {exc})") from None
        with npz:
            missing = [k for k in _NPZ_KEYS if k not in npz.files]
            if missing:
                raise _bad(
                    file,
                    f"no array {missing[0]!r} (Keras' {_NPZ} holds {', '.join(_NPZ_KEYS)}; "
                    f"this file holds {', '.join(npz.files) or 'none'})",
                )
            return [_read_member(file, npz.zip, key) for key in _NPZ_KEYS]


def _read_member(file: Path, zf, key: str) -> np.ndarray:
    """One ``.npy`` member: header checked against what MNIST needs and against the member's
    size BEFORE the data is read; then the data and (reading to the end) the zip CRC."""
    info = zf.getinfo(key + ".npy")  # present: the caller checked npz.files
    if info.file_size > _MAX_BYTES + 4096:
        raise _bad(
            file,
            f"array {key!r} claims {info.file_size} bytes, more than the limit of "
            f"{_MAX_BYTES} (1 GiB): corrupt",
        )
    with _corrupt_member(file, key):
        f = zf.open(info)
    with f:
        with _corrupt_member(file, key):
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            header = f.tell()
        _check_npy_header(file, key, key.startswith("x_"), shape, dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if header + nbytes != info.file_size:
            found = info.file_size - header
            raise _bad(file, f"array {key!r}: " + _length_detail(found, nbytes, _shown(shape)))
        with _corrupt_member(file, key):
            data = f.read(nbytes)
            tail = f.read(1)  # reading to the end checks the CRC
        if len(data) != nbytes or tail:
            raise _bad(file, f"array {key!r}: " + _length_detail(len(data), nbytes, _shown(shape)))
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


@contextlib.contextmanager
def _corrupt_member(file: Path, key: str):
    try:
        yield
    except Exception as exc:  # zipfile (BadZipFile: CRC), numpy header parsing, EOF, zlib ...
        raise _bad(file, f"array {key!r} is corrupt ({type(exc).__name__}: {exc})") from None


def _check_npy_header(file: Path, key: str, images: bool, shape, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise _bad(
            file,
            f"array {key!r} is an object array (dtype {dtype}): refused, gradcore loads .npz "
            "files with allow_pickle=False (unpickling can run arbitrary code)",
        )
    if images:
        if dtype != np.uint8 or len(shape) != 3:
            raise _bad(
                file,
                f"array {key!r} has dtype {dtype} and shape {list(shape)}, expected uint8 "
                f"images [n, {_SIDE}, {_SIDE}]",
            )
        _check_image_dims(f"{file} [{key}]", shape)
    elif dtype.kind not in "ui" or len(shape) != 1:
        raise _bad(
            file,
            f"array {key!r} has dtype {dtype} and shape {list(shape)}, expected integer labels [n]",
        )
