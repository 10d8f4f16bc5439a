"""Property tests for gc.save / gc.load (issue 11, item 7).

Random corruptions of a good checkpoint (byte edits, truncation, insertion, random manifest
edits), random bad arguments and random ``extra`` values: only ``CheckpointError`` (and
``TypeError``/``ValueError`` for bad arguments, ``FileNotFoundError``/``IsADirectoryError``
for paths) ever comes out, and what loads is exactly what was saved. Valid-but-odd inputs
(non-contiguous, read-only, other byte order, 0-d and empty arrays, NumPy scalars, path types)
round-trip to the same result as plain ones.
"""

import copy
import io
import json
import math
import os
import pathlib
import re
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcore as gc
from gradcore.checkpoint import CheckpointError

nn = gc.nn
FAST = settings(max_examples=int(os.environ.get("PROPS_N", 40)), deadline=None)


def small_model(seed=0):
    return nn.Sequential(
        [
            nn.Dense(3, 4, "tanh", seed=seed),
            nn.BatchNorm(4),
            nn.Dropout(0.1, seed=seed),
            nn.Residual(nn.Sequential([nn.Dense(4, 4, seed=seed + 1), nn.LayerNorm(4)])),
            nn.Dense(4, 2, seed=seed + 2),
        ]
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("props")
    model = small_model(1)
    opt = gc.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    X = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    model.fit(X, np.arange(16) % 2, optimizer=opt, epochs=1, verbose=False)
    path = gc.save(d / "good.npz", model, opt, extra={"curve": np.arange(5.0), "tag": "t"})
    return d, path.read_bytes(), model, opt


def _same(ck, model, opt):
    np.testing.assert_array_equal(ck.model.parameters().data, model.parameters().data)
    for k, v in model.buffers.items():
        np.testing.assert_array_equal(ck.model.buffers[k], v)
        assert ck.model.buffers[k].dtype == v.dtype
    for k, v in opt.state.items():
        np.testing.assert_array_equal(ck.optimizer.state[k], v)
    np.testing.assert_array_equal(ck.optimizer.steps, opt.steps)
    np.testing.assert_array_equal(ck.extra["curve"], np.arange(5.0))
    assert ck.extra["tag"] == "t"
    assert repr(ck.model) == repr(model)


def _load_or_refuse(path, model, opt):
    """Load must refuse with CheckpointError or return exactly what was saved."""
    try:
        ck = gc.load(path)
    except CheckpointError:
        return False
    _same(ck, model, opt)
    return True


@FAST
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6
    ),
    cut=st.none() | st.floats(0, 1),
    insert=st.none() | st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=40)),
)
def test_random_byte_corruption(work, edits, cut, insert):
    d, raw, model, opt = work
    data = bytearray(raw)
    for where, value in edits:
        data[int(where * len(data))] = value
    if insert is not None:
        at = int(insert[0] * len(data))
        data[at:at] = insert[1]
    if cut is not None:
        del data[int(cut * len(data)) :]
    p = d / "corrupt.npz"
    p.write_bytes(bytes(data))
    _load_or_refuse(p, model, opt)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


@pytest.fixture(scope="module")
def parts(work):
    _, raw, _, _ = work
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    manifest = json.loads(np.load(io.BytesIO(members["manifest.json.npy"])).tobytes())
    return members, manifest, [p for p in _paths(manifest) if p]


@FAST
@given(data=st.data(), value=json_values, delete=st.booleans())
def test_random_manifest_edits(work, parts, data, value, delete):
    d, _, model, _ = work
    members, manifest, paths = parts
    where = data.draw(st.sampled_from(paths))
    m = copy.deepcopy(manifest)
    node = m
    for k in where[:-1]:
        node = node[k]
    if delete:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(m).encode(), np.uint8))
    p = d / "edited.npz"
    with zipfile.ZipFile(p, "w") as z:
        for name, raw in {**members, "manifest.json.npy": buf.getvalue()}.items():
            z.writestr(name, raw)
    try:
        ck = gc.load(p)
    except CheckpointError:
        return
    # accepted: an edit load does not depend on (gradcore_version, an extra value, a hyper-
    # parameter the optimizer accepts, a frozen flag, ...); the arrays are still the saved ones
    np.testing.assert_array_equal(ck.model.parameters().data, model.parameters().data)


entry_arrays = st.builds(
    lambda dt, shape: np.zeros(shape, dtype=dt),
    st.sampled_from(["<f4", ">f4", "<f8", "<i8", "|u1", "|b1", "<c8", "|O", "<U3", "|V2"]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)


@FAST
@given(data=st.data(), arr=entry_arrays)
def test_random_entry_replacement(work, parts, data, arr):
    """Any entry replaced by any array (object arrays written with pickle): refused unless
    its shape and dtype are exactly what the manifest says (then it is a valid value)."""
    d = work[0]
    members, _, _ = parts
    name = data.draw(st.sampled_from(sorted(members)))
    orig = np.load(io.BytesIO(members[name]))
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    p = d / "swapped.npz"
    with zipfile.ZipFile(p, "w") as z:
        for k, raw in {**members, name: buf.getvalue()}.items():
            z.writestr(k, raw)
    fits = arr.shape == orig.shape and arr.dtype == orig.dtype and name != "manifest.json.npy"
    if not fits:
        with pytest.raises(CheckpointError, match=re.escape(name[:-4])):
            gc.load(p)
        return
    ck = gc.load(p)
    key = name[:-4].split("/", 1)[-1]
    got = {
        "param": lambda: ck.model.parameters().param(key),
        "buffer": lambda: ck.model.buffers[key],
        "optim": lambda: ck.optimizer.state[key],
        "extra": lambda: ck.extra[key],
        "optim_steps": lambda: ck.optimizer.steps,
    }[name[:-4].split("/", 1)[0]]()
    np.testing.assert_array_equal(got, arr)


not_paths = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
)


@FAST
@given(path=not_paths)
def test_bad_path_types(path):
    with pytest.raises(TypeError, match=r"save: path must be a str or os\.PathLike"):
        gc.save(path, nn.Dense(2, 2))
    with pytest.raises(TypeError, match=r"load: path must be a str or os\.PathLike"):
        gc.load(path)


anything = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.builds(np.zeros, st.integers(0, 3)),
    st.just(np.float32(1.0)),
)


@FAST
@given(model=anything, optimizer=anything, extra=anything)
def test_bad_arguments_are_type_or_value_errors(work, model, optimizer, extra):
    d, _, good_model, _ = work
    target = d / "args.npz"
    with pytest.raises(TypeError, match=r"save: model must be a gradcore layer/model"):
        gc.save(target, model)
    if optimizer is not None:
        with pytest.raises(TypeError, match=r"save: optimizer must be a gradcore optimizer"):
            gc.save(target, good_model, optimizer=optimizer)
        with pytest.raises(TypeError, match=r"load: optimizer must be a gradcore optimizer"):
            gc.load(target, model=good_model, optimizer=optimizer)
    if extra is not None:
        with pytest.raises(TypeError, match=r"save: extra must be a dict"):
            gc.save(target, good_model, extra=extra)
    if model is not None:
        with pytest.raises(TypeError, match=r"load: model must be a gradcore layer/model"):
            gc.load(target, model=model)
    assert not target.exists()


extra_arrays = st.builds(
    lambda dt, shape, seed: np.random.default_rng(seed).integers(0, 100, shape).astype(dt),
    st.sampled_from(["<f4", ">f8", "<i2", "|u1", "|b1", "<f2", ">i8"]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    st.integers(0, 2**32 - 1),
)
extra_values = st.one_of(
    json_values, extra_arrays, st.sampled_from([np.float32(0.25), np.int8(-3)])
)


def _normal(v):
    """What a JSON value is after the round trip, as comparable text (NaN == NaN)."""

    def default(o):
        return o.item()

    return json.dumps(v, default=default, sort_keys=True)


@FAST
@given(extra=st.dictionaries(st.text(max_size=5), extra_values, max_size=4))
def test_random_extra_round_trips_or_is_refused(work, extra):
    d, _, model, _ = work
    target = d / "extra.npz"
    target.unlink(missing_ok=True)
    try:
        gc.save(target, model, extra=extra)
    except (TypeError, ValueError):
        assert not target.exists()
        return
    ck = gc.load(target)
    assert sorted(ck.extra) == sorted(extra)
    for k, v in extra.items():
        if isinstance(v, np.ndarray):
            assert ck.extra[k].dtype == v.dtype and ck.extra[k].shape == v.shape
            np.testing.assert_array_equal(ck.extra[k], v)
        else:
            assert _normal(ck.extra[k]) == _normal(v)


class _PathLike:
    def __init__(self, p):
        self.p = p

    def __fspath__(self):
        return str(self.p)


@FAST
@given(
    arr=extra_arrays,
    layout=st.sampled_from(["plain", "noncontig", "fortran", "readonly", "reversed"]),
    path_type=st.sampled_from([str, pathlib.Path, _PathLike]),
)
def test_odd_but_valid_inputs_give_the_same_result(work, arr, layout, path_type):
    d, _, model, opt = work
    odd = arr
    if layout == "noncontig" and arr.ndim:
        odd = np.repeat(arr, 2, axis=0)[::2]
    elif layout == "fortran":
        odd = np.asfortranarray(arr)
    elif layout == "readonly":
        odd = arr.copy()
        odd.flags.writeable = False
    elif layout == "reversed" and arr.ndim:
        odd = arr[::-1].copy()[::-1]
    plain = gc.load(gc.save(d / "plain.npz", model, opt, extra={"a": arr, "s": 0.5}))
    other = gc.load(
        gc.save(path_type(d / "odd.npz"), model, opt, extra={"a": odd, "s": np.float64(0.5)})
    )
    for ck in (plain, other):
        _same_core(ck, model, opt)
    np.testing.assert_array_equal(other.extra["a"], plain.extra["a"])
    assert other.extra["a"].dtype == plain.extra["a"].dtype == arr.dtype
    assert other.extra["a"].flags.c_contiguous and other.extra["a"].flags.writeable
    assert other.extra["s"] == plain.extra["s"] == 0.5 and type(other.extra["s"]) is float
    into = small_model(9)
    gc.load(path_type(d / "odd.npz"), model=into)
    np.testing.assert_array_equal(into.parameters().data, model.parameters().data)


def _same_core(ck, model, opt):
    np.testing.assert_array_equal(ck.model.parameters().data, model.parameters().data)
    for k, v in opt.state.items():
        np.testing.assert_array_equal(ck.optimizer.state[k], v)


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(["missing", "folder", "empty", "npy", "text"]))
def test_not_checkpoints(work, kind):
    d = work[0]
    p = d / f"not-{kind}"
    if kind == "folder":
        p.mkdir(exist_ok=True)
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "npy":
        with open(p, "wb") as f:
            np.save(f, np.arange(3))
    elif kind == "text":
        p.write_text("hello")
    expected = {"missing": FileNotFoundError, "folder": IsADirectoryError}.get(
        kind, CheckpointError
    )
    with pytest.raises(expected):
        gc.load(p)
    assert math.isfinite(os.path.getsize(d / "good.npz"))
