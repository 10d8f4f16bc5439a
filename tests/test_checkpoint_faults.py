"""Fault injection for checkpoints: a failure at every stage of a save leaves the old file
byte-identical and no temporary file; truncated, bit-flipped and lying files are refused with
CheckpointError (or, for a flip the zip CRCs and header checks show to be harmless, load
exactly what the manifest and CRCs vouch for)."""

import errno
import io
import json
import os
import zipfile

import numpy as np
import pytest

import gradcore as gc
from gradcore import checkpoint as ckpt
from gradcore.checkpoint import CheckpointError

nn = gc.nn


def small_model(seed=0):
    return nn.Sequential(
        [
            nn.Dense(3, 5, "tanh", seed=seed),
            nn.BatchNorm(5),
            nn.Dropout(0.1, seed=seed),
            nn.Dense(5, 2, seed=seed + 1),
        ]
    )


@pytest.fixture
def saved(tmp_path):
    """A good checkpoint on disk and a second, different model + optimizer to save over it."""
    old = small_model(0)
    path = gc.save(tmp_path / "m.npz", old, extra={"epoch": 1})
    new = small_model(7)
    opt = gc.optim.Adam(new.parameters(), lr=1e-3)
    return path, path.read_bytes(), old, new, opt


def _count_entries(new, opt) -> int:
    calls = []
    real = ckpt._write_entry

    def spy(zf, name, arr):
        calls.append(name)
        real(zf, name, arr)

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        mp = pytest.MonkeyPatch()
        mp.setattr(ckpt, "_write_entry", spy)
        try:
            gc.save(os.path.join(d, "x.npz"), new, opt, extra={"a": np.zeros(2)})
        finally:
            mp.undo()
    return len(calls)


def _assert_untouched(path, before, old):
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    np.testing.assert_array_equal(gc.load(path).model.parameters().data, old.parameters().data)


def test_failing_write_of_each_entry(saved, monkeypatch):
    path, before, old, new, opt = saved
    n = _count_entries(new, opt)
    assert n == 1 + 6 + 3 + 2 + 1 + 1  # manifest, params, buffers, optim state, steps, extra
    real = ckpt._write_entry
    for k in range(n):
        calls = []

        def failing(zf, name, arr, k=k, calls=calls):
            calls.append(name)
            if len(calls) - 1 == k:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(zf, name, arr)

        monkeypatch.setattr(ckpt, "_write_entry", failing)
        with pytest.raises(OSError, match="No space left") as info:
            gc.save(path, new, opt, extra={"a": np.zeros(2)})
        assert info.value.errno == errno.ENOSPC
        _assert_untouched(path, before, old)


def test_write_that_dies_halfway_through_an_entry(saved, monkeypatch):
    """The data of one entry is half written when the disk fills up."""
    path, before, old, new, opt = saved
    real = np.lib.format.write_array

    def half(fp, arr, **kw):
        if arr.size > 10:
            fp.write(b"\0" * 7)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fp, arr, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", half)
    with pytest.raises(OSError, match="No space left"):
        gc.save(path, new, opt)
    _assert_untouched(path, before, old)


@pytest.mark.parametrize("stage", ["flush", "fsync", "verify", "replace", "chmod"])
def test_failing_stage_of_a_save(saved, monkeypatch, stage):
    path, before, old, new, opt = saved

    def boom(*args, **kwargs):
        raise OSError(errno.EIO, f"injected {stage} failure")

    if stage == "flush":
        monkeypatch.setattr(ckpt, "_flush", boom)
    elif stage == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    elif stage == "verify":

        def bad_verify(*args):
            raise CheckpointError("injected verify failure")

        monkeypatch.setattr(ckpt, "_verify", bad_verify)
    elif stage == "replace":
        monkeypatch.setattr(os, "replace", boom)
    else:
        monkeypatch.setattr(os, "fchmod", boom)
    err = CheckpointError if stage == "verify" else OSError
    with pytest.raises(err, match=f"injected {stage} failure"):
        gc.save(path, new, opt)
    _assert_untouched(path, before, old)


def test_interrupt_during_save_removes_the_temp_file(saved, monkeypatch):
    path, before, old, new, opt = saved

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "_verify", interrupt)
    with pytest.raises(KeyboardInterrupt):
        gc.save(path, new, opt)
    _assert_untouched(path, before, old)


def test_verify_catches_what_was_written_wrong(saved, monkeypatch):
    """The verify step is real: an entry that reaches the disk different from the array
    (a flipped bit on the way) stops the save before the rename."""
    path, before, old, new, opt = saved
    real = ckpt._write_entry

    def corrupting(zf, name, arr):
        if name == "param/3.Dense.b":
            arr = arr.copy()
            arr.view(np.uint32)[0] ^= 1
        real(zf, name, arr)

    monkeypatch.setattr(ckpt, "_write_entry", corrupting)
    with pytest.raises(CheckpointError, match=r"verification failed: entry 'param/3\.Dense\.b'"):
        gc.save(path, new, opt)
    _assert_untouched(path, before, old)


def test_failing_directory_fsync_is_raised_after_a_complete_replace(saved, monkeypatch):
    """Documented: the rename happened, so the new file is in place and complete."""
    path, _, _, new, opt = saved
    real = os.fsync
    calls = []

    def second_fails(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EIO, "injected directory fsync failure")
        real(fd)

    monkeypatch.setattr(os, "fsync", second_fails)
    with pytest.raises(OSError, match="directory fsync"):
        gc.save(path, new, opt)
    monkeypatch.undo()
    np.testing.assert_array_equal(gc.load(path).model.parameters().data, new.parameters().data)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_new_file_keeps_the_old_permissions(saved):
    path, _, _, new, opt = saved
    os.chmod(path, 0o640)
    gc.save(path, new, opt)
    assert path.stat().st_mode & 0o777 == 0o640


# -- damaged files ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    model = small_model(3)
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    X = np.random.default_rng(0).standard_normal((20, 3)).astype(np.float32)
    y = np.arange(20) % 2
    model.fit(X, y, optimizer=opt, epochs=1, verbose=False)
    path = gc.save(d / "good.npz", model, opt, extra={"curve": np.arange(4.0), "tag": "x"})
    return path.read_bytes(), model, opt


def _check_same(ck, model, opt):
    np.testing.assert_array_equal(ck.model.parameters().data, model.parameters().data)
    for k, v in model.buffers.items():
        np.testing.assert_array_equal(ck.model.buffers[k], v)
    for k, v in opt.state.items():
        np.testing.assert_array_equal(ck.optimizer.state[k], v)
    np.testing.assert_array_equal(ck.optimizer.steps, opt.steps)
    np.testing.assert_array_equal(ck.extra["curve"], np.arange(4.0))
    assert ck.extra["tag"] == "x"
    assert repr(ck.model) == repr(model)


def test_truncated_at_any_offset(tmp_path, good):
    raw, _, _ = good
    offsets = sorted({*range(0, len(raw), max(1, len(raw) // 150)), len(raw) - 1, len(raw) - 22})
    for cut in offsets:
        p = tmp_path / "cut.npz"
        p.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match="not a readable gradcore checkpoint"):
            gc.load(p)


def test_bit_flips_are_caught_or_harmless(tmp_path, good):
    raw, model, opt = good
    loaded = refused = 0
    for off in range(0, len(raw), max(1, len(raw) // 300)):
        for bit in (0, 5):
            flipped = bytearray(raw)
            flipped[off] ^= 1 << bit
            p = tmp_path / "flip.npz"
            p.write_bytes(bytes(flipped))
            try:
                ck = gc.load(p)
            except CheckpointError:
                refused += 1
                continue
            _check_same(ck, model, opt)  # a harmless byte (a zip timestamp, ...)
            loaded += 1
    assert refused > loaded > 0


def test_every_data_byte_flip_is_caught(tmp_path, good):
    """Flips inside an entry's bytes are caught by the zip CRC (or the header checks)."""
    raw, _, _ = good
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        info = z.getinfo("param/0.Dense.W.npy")
    h = info.header_offset  # the local header: 30 bytes, then its own name and extra field
    start = h + 30 + int.from_bytes(raw[h + 26 : h + 28], "little")
    start += int.from_bytes(raw[h + 28 : h + 30], "little")
    assert raw[start : start + 6] == b"\x93NUMPY"
    for off in range(start, start + info.file_size):
        flipped = bytearray(raw)
        flipped[off] ^= 0x10
        p = tmp_path / "flip.npz"
        p.write_bytes(bytes(flipped))
        with pytest.raises(CheckpointError, match=r"entry 'param/0\.Dense\.W'"):
            gc.load(p)


# -- lying manifests ----------------------------------------------------------------------
def _rewrite(tmp_path, raw, edit, arrays=None):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    m = json.loads(np.load(io.BytesIO(members["manifest.json.npy"])).tobytes())
    edit(m)
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(m).encode(), np.uint8))
    members["manifest.json.npy"] = buf.getvalue()
    for k, v in (arrays or {}).items():
        b = io.BytesIO()
        np.save(b, v)
        members[f"{k}.npy"] = b.getvalue()
    p = tmp_path / "lie.npz"
    with zipfile.ZipFile(p, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return p


def test_manifest_lying_about_shapes(tmp_path, good):
    raw = good[0]

    def layout(m):
        m["layout"][0]["shape"] = [5, 3]

    with pytest.raises(CheckpointError, match=r"'param/0\.Dense\.W' has shape \[3, 5\], the man"):
        gc.load(_rewrite(tmp_path, raw, layout))

    def both(m):  # manifest and entry agree with each other, not with the config
        m["layout"][0]["shape"] = [5, 3]

    p = _rewrite(tmp_path, raw, both, {"param/0.Dense.W": np.zeros((5, 3), np.float32)})
    with pytest.raises(
        CheckpointError, match=r"model does not match: file has 0\.Dense\.W \(5, 3\)"
    ):
        gc.load(p)

    def buf(m):
        m["buffers"]["1.BatchNorm.running_mean"]["shape"] = [6]

    with pytest.raises(CheckpointError, match=r"running_mean' has shape \[5\], the manifest says"):
        gc.load(_rewrite(tmp_path, raw, buf))

    def extra(m):
        m["extra_arrays"]["curve"]["shape"] = [2, 2]

    with pytest.raises(CheckpointError, match=r"'extra/curve' has shape \[4\], the manifest says"):
        gc.load(_rewrite(tmp_path, raw, extra))

    def steps(m):
        m["layout"].append({"name": "9.Dense.W", "shape": [1], "frozen": False})

    with pytest.raises(CheckpointError, match=r"'param/9\.Dense\.W' is missing"):
        gc.load(_rewrite(tmp_path, raw, steps))


def test_manifest_lying_about_dtypes(tmp_path, good):
    raw = good[0]

    def dtype(m):
        m["dtype"] = "float64"

    with pytest.raises(CheckpointError, match=r"'param/0\.Dense\.W' has dtype <f4, the manifest "):
        gc.load(_rewrite(tmp_path, raw, dtype))

    def buf(m):
        m["buffers"]["1.BatchNorm.running_var"]["dtype"] = "<f8"

    with pytest.raises(CheckpointError, match=r"running_var' has dtype <f4, the manifest says <f8"):
        gc.load(_rewrite(tmp_path, raw, buf))

    def both(m):  # the buffer entry agrees with the manifest, not with the model
        m["buffers"]["1.BatchNorm.running_var"]["dtype"] = "<f8"

    p = _rewrite(tmp_path, raw, both, {"buffer/1.BatchNorm.running_var": np.ones(5)})
    with pytest.raises(
        CheckpointError, match=r"buffer '1\.BatchNorm\.running_var' is \[5\] float64"
    ):
        gc.load(p)

    p = _rewrite(tmp_path, raw, lambda m: None, {"optim_steps": np.zeros(6, np.int32)})
    with pytest.raises(
        CheckpointError, match=r"'optim_steps' has dtype <i4, the manifest says <i8"
    ):
        gc.load(p)


def test_manifest_lying_about_classes(tmp_path, good):
    raw = good[0]

    def swap(m):
        m["model"]["layers"][1] = {
            "class": "LayerNorm",
            "args": {"num_features": 5, "eps": 1e-5, "dtype": "float32"},
        }

    with pytest.raises(
        CheckpointError, match=r"model does not match: file has 1\.BatchNorm\.gamma"
    ):
        gc.load(_rewrite(tmp_path, raw, swap))

    def wider(m):
        m["model"]["layers"][0]["args"]["out_features"] = 6

    with pytest.raises(
        CheckpointError, match=r"model does not match: file has 0\.Dense\.W \(3, 5\)"
    ):
        gc.load(_rewrite(tmp_path, raw, wider))

    def opt(m):
        m["optimizer"]["type"] = "SGD"

    with pytest.raises(CheckpointError, match=r"optimizer state does not fit|does not build SGD"):
        gc.load(_rewrite(tmp_path, raw, opt))

    def code(m):
        m["model"]["class"] = "__import__('os').system"

    with pytest.raises(CheckpointError, match=r"unknown layer class \"__import__"):
        gc.load(_rewrite(tmp_path, raw, code))
