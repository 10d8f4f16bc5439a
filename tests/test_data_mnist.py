"""Tests for ``gradcore.data.mnist``: both formats round-trip exactly, the search order, the
not-found message, and a clear ``ValueError`` (naming the file and the problem) for every kind
of malformed file. Every file is written here, in ``tmp_path``; HOME, the current folder and the
environment variables are redirected, so the real home is never read; no network."""

import gzip
import io
import os
import re
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gradcore import data
from gradcore.data import DatasetNotFound
from gradcore.data import _mnist as mnist_module

IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
KEYS = ("x_train", "y_train", "x_test", "y_test")
ENV = ("GRADCORE_DATA", "KERAS_HOME", "XDG_CACHE_HOME", "MNIST_PATH")


# ---------------------------------------------------------------- writers


def make_arrays(seed=0, n_train=20, n_test=10):
    """Random MNIST-shaped arrays: uint8 images [n, 28, 28] and uint8 labels 0..9."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    ]


def idx_bytes(a, type_code=0x08, ndim=None, dims=None):
    """An IDX file: magic (0, 0, type, ndim), dims as big-endian uint32, then the bytes."""
    dims = list(a.shape) if dims is None else dims
    ndim = len(dims) if ndim is None else ndim
    head = bytes([0, 0, type_code, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return head + np.ascontiguousarray(a).tobytes()


def write_idx(folder, arrays, gz=False):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, a in zip(IDX, arrays, strict=True):
        zipped = gz is True or (isinstance(gz, set) and name in gz)
        p = folder / (name + (".gz" if zipped else ""))
        raw = idx_bytes(a)
        p.write_bytes(gzip.compress(raw, mtime=0) if zipped else raw)
        paths.append(p)
    return paths


def write_npz(path, arrays, compressed=False, **extra):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    members = dict(zip(KEYS, arrays, strict=True)) | extra
    (np.savez_compressed if compressed else np.savez)(path, **members)
    return path


def expected(arrays, flatten=True, scale=True):
    out = []
    for images, labels in (arrays[0:2], arrays[2:4]):
        X = images.astype(np.float64)
        X = X / 255.0 if scale else X
        out += [X.reshape(len(X), 784) if flatten else X, labels.astype(np.int64)]
    return out


def assert_same(got, want):
    assert len(got) == 4
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape and g.flags.c_contiguous
        assert np.array_equal(g, w)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake HOME and current folder, with every variable the search reads unset."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    fake_home, cwd = tmp_path / "home", tmp_path / "cwd"
    fake_home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.chdir(cwd)

    # No network: any attempt to connect fails the test.
    def refuse(*args, **kwargs):
        raise AssertionError("gradcore.data.mnist tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert Path.home() == fake_home
    return fake_home


# ---------------------------------------------------------------- round trips


def test_exported():
    assert data.mnist is mnist_module.mnist
    assert issubclass(DatasetNotFound, FileNotFoundError)
    assert {"mnist", "DatasetNotFound"} <= set(data.__all__)


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_round_trip(home, tmp_path, compressed):
    arrays = make_arrays()
    p = write_npz(tmp_path / "x" / "mnist.npz", arrays, compressed=compressed)
    ds = data.mnist(p)
    assert_same(ds, expected(arrays))
    assert isinstance(ds, tuple) and ds.format == "npz" and ds.source == p.resolve()
    X_train, y_train, X_test, y_test = ds  # a plain 4-tuple to unpack
    assert X_train.shape == (20, 784) and X_test.shape == (10, 784)
    assert y_train.shape == (20,) and y_test.shape == (10,)
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0


@pytest.mark.parametrize("gz", [False, True, {IDX[0], IDX[3]}], ids=["plain", "gz", "mixed"])
def test_idx_round_trip(home, tmp_path, gz):
    arrays = make_arrays(seed=1)
    write_idx(tmp_path / "raw", arrays, gz=gz)
    ds = data.mnist(tmp_path / "raw")
    assert_same(ds, expected(arrays))
    assert ds.format == "idx" and ds.source == (tmp_path / "raw").resolve()


def test_npz_with_int64_labels_and_extra_members(home, tmp_path):
    arrays = make_arrays(seed=2)
    arrays[1] = arrays[1].astype(np.int64)
    p = write_npz(tmp_path / "m.npz", arrays, note=np.arange(3))
    assert_same(data.mnist(p), expected(arrays))


@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_flatten_and_scale(home, tmp_path, flatten, scale):
    arrays = make_arrays(seed=3)
    write_idx(tmp_path, arrays, gz=True)
    ds = data.mnist(tmp_path, flatten=flatten, scale=scale)
    assert_same(ds, expected(arrays, flatten=flatten, scale=scale))
    if not scale:
        assert np.array_equal(ds[0].reshape(-1), arrays[0].reshape(-1))  # exact 0..255


def test_n_train_n_test_keep_a_prefix(home, tmp_path):
    arrays = make_arrays(seed=4)
    p = write_npz(tmp_path / "mnist.npz", arrays)
    full = data.mnist(p)
    part = data.mnist(p, n_train=7, n_test=np.int64(10))
    assert_same(part, [full[0][:7], full[1][:7], full[2], full[3]])
    assert_same(data.mnist(p, n_train=None, n_test=3), [*full[:2], full[2][:3], full[3][:3]])
    with pytest.raises(
        ValueError, match=r"mnist: n_train must be an integer in \[1, 20\] .*got 21"
    ):
        data.mnist(p, n_train=21)
    with pytest.raises(ValueError, match=r"mnist: n_test must be an integer in \[1, 10\] .*got 11"):
        data.mnist(p, n_test=11)


def test_deterministic(home, tmp_path):
    p = write_npz(tmp_path / "mnist.npz", make_arrays())
    assert_same(data.mnist(p), list(data.mnist(p)))


@pytest.mark.parametrize(
    ("kwargs", "err", "pattern"),
    [
        ({"n_train": 0}, ValueError, r"mnist: n_train must be an integer >= 1, got 0"),
        ({"n_test": 2.0}, TypeError, r"mnist: n_test must be an integer >= 1, got float"),
        ({"n_train": True}, TypeError, r"mnist: n_train must be an integer >= 1, got bool"),
        ({"flatten": 1}, TypeError, r"mnist: flatten must be True or False, got int"),
        ({"scale": "yes"}, TypeError, r"mnist: scale must be True or False, got str"),
        ({"path": 3}, TypeError, r"mnist: path must be a str, an os.PathLike or None, got int"),
    ],
)
def test_argument_errors(home, kwargs, err, pattern):
    with pytest.raises(err, match=pattern):
        data.mnist(**kwargs)


# ---------------------------------------------------------------- path forms and search


@pytest.mark.parametrize("layout", ["npz-in-folder", "idx-in-folder", "MNIST/raw", "npz-file"])
def test_path_forms(home, tmp_path, layout):
    arrays = make_arrays(seed=5)
    root = tmp_path / "root"
    if layout == "npz-in-folder":
        write_npz(root / "mnist.npz", arrays)
        want = (root / "mnist.npz", "npz")
    elif layout == "npz-file":
        root = write_npz(root / "any-name.npz", arrays)
        want = (root, "npz")
    elif layout == "idx-in-folder":
        write_idx(root, arrays)
        want = (root, "idx")
    else:
        write_idx(root / "MNIST" / "raw", arrays, gz=True)
        want = (root / "MNIST" / "raw", "idx")
    ds = data.mnist(str(root))
    assert (ds.source, ds.format) == (want[0].resolve(), want[1])
    assert_same(ds, expected(arrays))


def test_inside_one_place_npz_first_then_plain_idx_before_gz(home, tmp_path):
    a, b, c = make_arrays(seed=6), make_arrays(seed=7), make_arrays(seed=8)
    write_idx(tmp_path, a, gz=True)
    assert_same(data.mnist(tmp_path), expected(a))
    write_idx(tmp_path, b, gz=False)  # plain files next to the .gz ones win
    assert_same(data.mnist(tmp_path), expected(b))
    write_npz(tmp_path / "mnist.npz", c)
    assert data.mnist(tmp_path).format == "npz"
    assert_same(data.mnist(tmp_path), expected(c))


def test_path_to_one_idx_file_says_pass_the_folder(home, tmp_path):
    p = write_idx(tmp_path, make_arrays(), gz=True)[0]
    with pytest.raises(ValueError, match=r"is one of the four IDX files; pass the folder"):
        data.mnist(p)


def test_missing_explicit_path(home, tmp_path):
    with pytest.raises(DatasetNotFound, match=r"no MNIST copy at path=.*nowhere.*does not exist"):
        data.mnist(tmp_path / "nowhere")
    for f in write_idx(tmp_path / "half", make_arrays())[2:]:
        f.unlink()  # only the training files are left
    with pytest.raises(
        DatasetNotFound,
        match=r"half.*only 2 of the 4 IDX files \(train-images-idx3-ubyte, train-labels",
    ):
        data.mnist(tmp_path / "half")


def _search_places(home, tmp_path):
    """Where each searched place puts a copy, in search order (with GRADCORE_DATA set)."""
    cwd = Path.cwd()
    return [
        ("gradcore_data", tmp_path / "env" / "MNIST" / "raw", "idx"),
        ("./data", cwd / "data" / "MNIST" / "raw", "idx"),
        (".", cwd / "mnist.npz", "npz"),
        ("keras", home / ".keras" / "datasets" / "mnist.npz", "npz"),
        ("cache", home / ".cache" / "gradcore" / "MNIST" / "raw", "idx"),
        ("~/data", home / "data", "idx"),
    ]


def test_search_order(home, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCORE_DATA", str(tmp_path / "env"))
    places = _search_places(home, tmp_path)
    copies = {}
    for seed, (name, where, fmt) in enumerate(places):
        arrays = make_arrays(seed=10 + seed)
        if fmt == "npz":
            write_npz(where, arrays)
        else:
            write_idx(where, arrays, gz=seed % 2 == 0)
        copies[name] = arrays
    # Each place wins while it holds a copy; remove it and the next one is used.
    for name, where, fmt in places:
        ds = data.mnist()
        assert (ds.source, ds.format) == (where.resolve(), fmt), name
        assert_same(ds, expected(copies[name]))
        for f in [where] if where.is_file() else list(where.iterdir()):
            f.unlink()
    with pytest.raises(DatasetNotFound):
        data.mnist()


def test_keras_home_and_xdg_cache_home(home, tmp_path, monkeypatch):
    arrays = make_arrays(seed=20)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write_npz(home / ".keras" / "datasets" / "mnist.npz", make_arrays(seed=21))  # not read
    write_idx(tmp_path / "xdg" / "gradcore", arrays)
    ds = data.mnist()
    assert ds.source == (tmp_path / "xdg" / "gradcore").resolve()
    p = write_npz(tmp_path / "kh" / "datasets" / "mnist.npz", arrays)
    assert data.mnist().source == p.resolve()


def test_gradcore_data_may_name_a_file(home, tmp_path, monkeypatch):
    p = write_npz(tmp_path / "elsewhere" / "digits-28.npz", make_arrays(seed=22))
    monkeypatch.setenv("GRADCORE_DATA", str(p))
    assert data.mnist().source == p.resolve()


def test_not_found_lists_every_place_and_what_to_do(home):
    with pytest.raises(DatasetNotFound) as info:
        data.mnist()
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    cwd = Path.cwd()
    looked = [
        "$GRADCORE_DATA: not set",
        f"./data = {cwd / 'data'}: does not exist",
        f". = {cwd}: no mnist.npz, no IDX files, no MNIST/raw/",
        f"~/.keras/datasets = {home / '.keras' / 'datasets'}: does not exist",
        f"~/.cache/gradcore = {home / '.cache' / 'gradcore'}: does not exist",
        f"~/data = {home / 'data'}: does not exist",
    ]
    assert err.searched == looked
    for i, line in enumerate(looked, 1):
        assert f"  {i}. {line}" in msg
    assert "never downloads" in msg
    for needle in ("mnist.npz", "x_train, y_train, x_test, y_test", *IDX, ".gz", "MNIST/raw"):
        assert needle in msg
    assert "path=" in msg and "GRADCORE_DATA" in msg


def test_not_found_mentions_an_incomplete_copy(home):
    for f in write_idx(Path.cwd() / "data" / "MNIST" / "raw", make_arrays())[:2]:
        f.unlink()  # only the test files are left
    with pytest.raises(DatasetNotFound, match=r"only 2 of the 4 IDX files in MNIST/raw/ \(t10k"):
        data.mnist()


# ---------------------------------------------------------------- malformed IDX files


def _idx_folder(tmp_path, arrays=None, gz=False, replace=None):
    """A folder with the four IDX files; ``replace`` maps an index 0..3 to raw bytes."""
    paths = write_idx(tmp_path / "raw", make_arrays() if arrays is None else arrays, gz=gz)
    for i, raw in (replace or {}).items():
        paths[i].write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return tmp_path / "raw", paths


def _raises_for(folder, file, pattern, err=ValueError):
    with pytest.raises(err, match=re.escape(f"mnist: {file.resolve()}: ") + pattern) as info:
        data.mnist(folder)
    assert type(info.value) is err
    return info.value


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(
    ("which", "make", "pattern"),
    [
        (
            0,
            lambda a: idx_bytes(a[0])[:-5],
            r"truncated: 15675 data bytes after the header, "
            r"the header's dimensions 20x28x28 need exactly 15680",
        ),
        (
            3,
            lambda a: idx_bytes(a[3]) + b"\x01\x02",
            r"trailing bytes: 12 data bytes after the "
            r"header, the header's dimensions 10 need exactly 10",
        ),
        (
            2,
            lambda a: idx_bytes(np.zeros(100, np.uint8), dims=[1_000_000, 28, 28]),
            r"truncated: 100 data bytes after the header, the header's dimensions 1000000x28x28 "
            r"need exactly 784000000",
        ),  # 784 MB claimed: within the limit, compared with the data
    ],
    ids=["truncated", "trailing", "claims-more-than-the-file"],
)
def test_idx_data_length_must_match_the_header(home, tmp_path, gz, which, make, pattern):
    folder, paths = _idx_folder(tmp_path, gz=gz, replace={which: make(make_arrays())})
    _raises_for(folder, paths[which], pattern)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(
    ("which", "raw", "pattern"),
    [
        (
            0,
            b"\x1f\x8b\x08\x03" + bytes(12),
            r"not an IDX file: magic number 0x1F8B0803, "
            r"expected 0x00000803 \(IDX images\)",
        ),
        (
            1,
            b"\x00\x00\x08\x03" + bytes(12),
            r"3 dimensions in the IDX header, expected 1 for "
            r"labels \(magic 0x00000803, expected 0x00000801\)",
        ),
        (
            2,
            idx_bytes(np.zeros((2, 28, 28), np.float32), type_code=0x0D),
            r"IDX type code 0x0D \(float32\), expected 0x08 \(uint8\)",
        ),
        (
            2,
            idx_bytes(np.zeros((2, 28, 28), np.uint8), ndim=2),
            r"2 dimensions in the IDX "
            r"header, expected 3 for images",
        ),
        (
            0,
            idx_bytes(np.zeros((2, 32, 32), np.uint8)),
            r"images are 32x32 pixels, MNIST's "
            r"are 28x28",
        ),
        (0, b"\x00\x00\x08", r"truncated: 3 bytes, an IDX header needs at least 4"),
        (
            0,
            b"\x00\x00\x08\x03\x00\x00\x00\x14\x00\x00",
            r"truncated header: 10 bytes, the "
            r"header needs 16",
        ),
    ],
    ids=["magic", "labels-magic", "type-code", "dims-count", "not-28x28", "short", "short-dims"],
)
def test_idx_header_errors(home, tmp_path, gz, which, raw, pattern):
    folder, paths = _idx_folder(tmp_path, gz=gz, replace={which: raw})
    _raises_for(folder, paths[which], pattern)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("which", [0, 1])
def test_idx_header_claiming_huge_sizes_allocates_nothing(home, tmp_path, gz, which):
    n = 4_000_000_000  # 3.1e12 bytes of images, 4e9 labels
    dims = [n, 28, 28] if which == 0 else [n]
    raw = idx_bytes(np.zeros(100, np.uint8), dims=dims)  # 100 bytes of data follow
    folder, paths = _idx_folder(tmp_path, gz=gz, replace={which: raw})
    size = n * (784 if which == 0 else 1)
    _raises_for(folder, paths[which], rf"the header claims .* = {size} bytes, more than the limit")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_label_out_of_range(home, tmp_path, gz):
    a = make_arrays()
    a[3][4] = 10
    a[3][7] = 255
    folder, paths = _idx_folder(tmp_path, arrays=a, gz=gz)
    _raises_for(folder, paths[3], r"label 10 at index 4 \(2 labels in all\) is outside 0..9")


def test_idx_count_mismatch(home, tmp_path):
    a = make_arrays()
    folder, paths = _idx_folder(tmp_path, replace={1: idx_bytes(a[1][:19])})
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"mnist: image and label counts differ: {paths[0].resolve()} holds 20 images, "
            f"{paths[1].resolve()} holds 19 labels"
        ),
    ):
        data.mnist(folder)


def test_idx_no_images(home, tmp_path):
    a = make_arrays()
    folder, paths = _idx_folder(tmp_path, replace={2: idx_bytes(a[2][:0]), 3: idx_bytes(a[3][:0])})
    _raises_for(folder, paths[2], r"holds no images")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda z: z[:10] + bytes(b ^ 0xFF for b in z[10:30]) + z[30:],  # deflate stream
        lambda z: z[:-8] + bytes([z[-8] ^ 1]) + z[-7:],  # CRC
        lambda z: z[: len(z) // 2],  # truncated .gz
        lambda z: z + b"garbage!",  # trailing non-gzip data
        lambda z: gzip.decompress(z),  # named .gz, not gzipped
    ],
    ids=["deflate", "crc", "truncated", "trailing-garbage", "not-gzip"],
)
def test_idx_corrupt_gz(home, tmp_path, mangle):
    folder, paths = _idx_folder(tmp_path, gz=True)
    paths[0].write_bytes(mangle(paths[0].read_bytes()))
    _raises_for(folder, paths[0], r"corrupt gzip data \(\w+: ")


# ---------------------------------------------------------------- malformed npz files


def _npz_raises(p, pattern, err=ValueError):
    with pytest.raises(err, match=re.escape(f"mnist: {p.resolve()}: ") + pattern) as info:
        data.mnist(p)
    assert type(info.value) is err


@pytest.mark.parametrize("key", KEYS)
def test_npz_missing_key(home, tmp_path, key):
    members = dict(zip(KEYS, make_arrays(), strict=True))
    del members[key]
    p = tmp_path / "mnist.npz"
    np.savez(p, **members)
    _npz_raises(
        p,
        rf"no array '{key}' \(Keras' mnist.npz holds x_train, y_train, x_test, "
        rf"y_test; this file holds ",
    )


def test_npz_object_array_is_refused_not_unpickled(home, tmp_path):
    a = make_arrays()
    obj = np.empty(20, dtype=object)
    obj[:] = [int(v) for v in a[1]]
    p = tmp_path / "mnist.npz"
    np.savez(p, x_train=a[0], y_train=obj, x_test=a[2], y_test=a[3])  # savez pickles it
    _npz_raises(
        p,
        r"array 'y_train' is an object array \(dtype object\): refused, .*"
        r"allow_pickle=False",
    )


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        (
            "x_train",
            np.zeros((20, 28, 28), np.float32),
            r"array 'x_train' has dtype float32 and "
            r"shape \[20, 28, 28\], expected uint8 images \[n, 28, 28\]",
        ),
        (
            "x_test",
            np.zeros((10, 784), np.uint8),
            r"array 'x_test' has dtype uint8 and shape "
            r"\[10, 784\], expected uint8 images",
        ),
        ("x_test", np.zeros((10, 28, 27), np.uint8), r"\[x_test\]: images are 28x27 pixels"),
        (
            "y_train",
            np.zeros(20, np.float64),
            r"array 'y_train' has dtype float64 and shape "
            r"\[20\], expected integer labels \[n\]",
        ),
        (
            "y_test",
            np.zeros((10, 1), np.uint8),
            r"array 'y_test' has dtype uint8 and shape "
            r"\[10, 1\], expected integer labels",
        ),
    ],
)
def test_npz_wrong_dtype_or_shape(home, tmp_path, key, value, pattern):
    members = dict(zip(KEYS, make_arrays(), strict=True)) | {key: value}
    p = tmp_path / "mnist.npz"
    np.savez(p, **members)
    pat = pattern if pattern.startswith(r"\[") else re.escape(f"mnist: {p.resolve()}: ") + pattern
    with pytest.raises(ValueError, match=pat):
        data.mnist(p)


def test_npz_labels_and_counts(home, tmp_path):
    a = make_arrays()
    a[1] = a[1].astype(np.int16)
    a[1][3] = -1
    p = write_npz(tmp_path / "mnist.npz", a)
    with pytest.raises(
        ValueError, match=re.escape(f"mnist: {p.resolve()} [y_train]: label -1 at index 3")
    ):
        data.mnist(p)
    a = make_arrays()
    p = write_npz(tmp_path / "mnist.npz", [a[0], a[1], a[2], a[3][:9]])
    with pytest.raises(
        ValueError,
        match=r"counts differ: .*\[x_test\] holds 10 images, .*"
        r"\[y_test\] holds 9 labels",
    ):
        data.mnist(p)


def test_npz_not_an_archive(home, tmp_path):
    p = tmp_path / "mnist.npz"
    p.write_bytes(b"hello, not a zip at all")
    _npz_raises(p, r"not an .npz \(zip\) archive \(starts with b'hell'\)")
    np.save(tmp_path / "one.npy", np.zeros(3))
    p.write_bytes((tmp_path / "one.npy").read_bytes())
    _npz_raises(p, r"a single .npy array, not an .npz archive")
    p.write_bytes(b"PK\x03\x04 but then nothing")
    _npz_raises(p, r"corrupt .npz archive \(BadZipFile: ")


def test_npz_crc_and_truncation(home, tmp_path):
    p = write_npz(tmp_path / "mnist.npz", make_arrays())
    raw = bytearray(p.read_bytes())
    good = bytes(raw)
    raw[1000] ^= 0x40  # inside x_train's data (members are stored uncompressed)
    p.write_bytes(bytes(raw))
    _npz_raises(p, r"array 'x_train' is corrupt \(BadZipFile: Bad CRC-32")
    p.write_bytes(good[: len(good) - 30])  # the zip's directory is at the end
    _npz_raises(p, r"corrupt .npz archive \(BadZipFile: ")


def test_npz_member_claiming_huge_size(home, tmp_path):
    # A valid .npy header in a member claiming 10**12 images: refused before any allocation.
    members = dict(zip(KEYS, make_arrays(), strict=True))
    p = tmp_path / "mnist.npz"
    np.savez(p, **members)
    raw = p.read_bytes()
    old = re.search(rb"\(20, 28, 28\), \} +", raw).group()
    new = b"(999999999999, 28, 28), }"
    assert len(new) < len(old)
    new += b" " * (len(old) - len(new))  # same header length: the zip stays consistent
    p.write_bytes(raw.replace(old, new, 1))  # the CRC is checked only after the header
    _npz_raises(
        p,
        r"array 'x_train': truncated: 15680 data bytes after the header, the "
        r"header's dimensions 999999999999x28x28 need exactly 783999999999216",
    )


def test_npz_member_over_the_size_limit_is_refused_unread(home, tmp_path, monkeypatch):
    # The limit (1 GiB) is checked on the zip directory's size before the member is opened;
    # lowered here so that a 15 KB member is over it.
    p = write_npz(tmp_path / "mnist.npz", make_arrays())
    monkeypatch.setattr(mnist_module, "_MAX_BYTES", 10_000)
    _npz_raises(p, r"array 'x_train' claims 15808 bytes, more than the limit of 10000")


# ---------------------------------------------------------------- corruption property


@pytest.fixture(scope="module")
def valid_files():
    """Each format's valid bytes, built once: (arrays, {kind: {file name: bytes}})."""
    arrays = make_arrays(seed=30, n_train=6, n_test=4)
    plain = {n: idx_bytes(a) for n, a in zip(IDX, arrays, strict=True)}
    files = {"idx": plain, "gz": {n + ".gz": gzip.compress(b, mtime=0) for n, b in plain.items()}}
    for kind, save in (("npz", np.savez), ("npz-deflate", np.savez_compressed)):
        buf = io.BytesIO()
        save(buf, **dict(zip(KEYS, arrays, strict=True)))
        files[kind] = {"mnist.npz": buf.getvalue()}
    return arrays, files


KINDS = ("idx", "gz", "npz", "npz-deflate")


@st.composite
def corruption(draw):
    """(kind, which file (an index, taken modulo the count), how to change its bytes)."""
    kind = draw(st.sampled_from(KINDS))
    which = draw(st.integers(0, 3))
    op = draw(st.sampled_from(["flip", "truncate", "append"]))
    where = draw(st.integers(0, 2**31))  # taken modulo the file's length
    extra = draw(st.integers(1, 255)) if op == "flip" else draw(st.binary(min_size=1, max_size=20))
    return kind, which, op, where, extra


def _corrupt(raw, op, where, extra):
    if op == "flip":
        i = where % len(raw)
        return raw[:i] + bytes([raw[i] ^ extra]) + raw[i + 1 :]
    if op == "truncate":
        return raw[: where % len(raw)]
    return raw + extra


@settings(
    max_examples=int(os.environ.get("PROPS_N", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=corruption())
def test_corruption_gives_exact_data_or_a_clear_error(valid_files, case):
    """A changed byte, a cut or appended bytes: either the exact data (.gz and zip members carry
    a CRC; plain IDX files do not, so there at most the one changed value differs) or a
    ValueError naming the file, never another exception."""
    kind, which, op, where, extra = case
    arrays, files = valid_files
    names = sorted(files[kind])
    name = names[which % len(names)]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for n, raw in files[kind].items():
            (folder / n).write_bytes(_corrupt(raw, op, where, extra) if n == name else raw)
        try:
            ds = data.mnist(folder, scale=False, flatten=False)
        except ValueError as exc:
            event(f"{kind}: ValueError")
            assert type(exc) is ValueError
            assert str(exc).startswith(f"mnist: {(folder / name).resolve()}") or (
                "counts differ" in str(exc) and str((folder / name).resolve()) in str(exc)
            ), str(exc)
            return
    want = expected(arrays, flatten=False, scale=False)
    differ = sum(int(np.sum(g != w)) for g, w in zip(ds, want, strict=True))
    event(f"{kind}: {'exact data' if differ == 0 else 'one value changed'}")
    assert differ == 0 or (kind == "idx" and differ == 1), (kind, differ)
    for g, w in zip(ds, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
    assert all(0 <= y.min() and y.max() <= 9 for y in ds[1::2])
