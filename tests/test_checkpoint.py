"""Checkpoints: bit-exact round trip, exact resume, corrupt and mismatched files."""

import os
import zipfile

import numpy as np
import pytest

import gradcore as gc
from gradcore.checkpoint import CheckpointError
from gradcore.cli import spirals

nn = gc.nn


def model_fn(seed=0, width=16):
    return nn.Sequential(
        [
            nn.Dense(2, width, "linear", seed=seed),
            nn.BatchNorm(width),
            nn.Activation("relu"),
            nn.Dropout(0.2, seed=seed),
            nn.Residual(
                nn.Sequential([nn.Dense(width, width, "tanh", seed=seed + 1), nn.LayerNorm(width)])
            ),
            nn.Dense(width, 3, "linear", seed=seed + 2),
        ]
    )


@pytest.fixture(scope="module")
def data():
    return spirals(n_per_class=50, seed=3)


def test_round_trip_is_bit_exact(tmp_path, data):
    X, y = data
    model = model_fn()
    opt = gc.optim.Adam(model.parameters(), lr=3e-3, amsgrad=True, weight_decay=1e-4)
    model.fit(X, y, optimizer=opt, epochs=2, verbose=False)
    model.layers[0].freeze("b")
    path = gc.save(
        tmp_path / "ck", model, opt, extra={"epoch": 2, "note": "hi", "curve": np.arange(3.0)}
    )
    assert path.name == "ck.npz" and path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temp files left
    ck = gc.load(path)
    np.testing.assert_array_equal(ck.model.parameters().data, model.parameters().data)
    for k, v in model.buffers.items():
        np.testing.assert_array_equal(ck.model.buffers[k], v)
    assert type(ck.optimizer) is gc.optim.Adam
    a, b = opt.state_dict(), ck.optimizer.state_dict()
    for k in a["state"]:
        np.testing.assert_array_equal(a["state"][k], b["state"][k])
    assert ck.extra["epoch"] == 2 and ck.extra["note"] == "hi"
    np.testing.assert_array_equal(ck.extra["curve"], np.arange(3.0))
    assert "b" in ck.model.layers[0].frozen
    assert repr(ck.model) == repr(model)


def test_resume_continues_exactly(tmp_path, data):
    X, y = data
    kw = dict(epochs=4, batch_size=16, seed=11, verbose=False)
    straight = model_fn()
    opt = gc.optim.AdamW(straight.parameters(), lr=5e-3)
    straight.fit(X, y, optimizer=opt, **kw)

    first = model_fn()
    opt1 = gc.optim.AdamW(first.parameters(), lr=5e-3)
    first.fit(X, y, optimizer=opt1, **{**kw, "epochs": 2})
    gc.save(tmp_path / "mid.npz", first, opt1)
    ck = gc.load(tmp_path / "mid.npz")  # fresh model and optimizer objects
    ck.model.fit(X, y, optimizer=ck.optimizer, initial_epoch=2, **kw)
    np.testing.assert_array_equal(ck.model.parameters().data, straight.parameters().data)
    np.testing.assert_array_equal(
        ck.optimizer.state_dict()["state"]["exp_avg"], opt.state_dict()["state"]["exp_avg"]
    )


def test_load_into_existing_model_and_mismatch(tmp_path):
    model = model_fn()
    gc.save(tmp_path / "m.npz", model)
    other = model_fn(seed=9)
    gc.load(tmp_path / "m.npz", model=other)
    np.testing.assert_array_equal(other.parameters().data, model.parameters().data)
    with pytest.raises(CheckpointError, match=r"model does not match: file has 0.Dense.W"):
        gc.load(tmp_path / "m.npz", model=model_fn(width=8))
    with pytest.raises(CheckpointError, match="float32 in the file, float64 in the model"):
        gc.load(tmp_path / "m.npz", model=nn.Sequential([nn.Dense(2, 16, dtype=np.float64)]))


def test_corrupt_files_raise_clear_errors(tmp_path):
    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="not a readable gradcore checkpoint"):
        gc.load(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError):
        gc.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"no manifest.json"):
        gc.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        gc.load(tmp_path / "missing.npz")


def test_never_unpickles(tmp_path):
    """An object array in the file would need pickle: loading refuses instead of running it."""
    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    evil = tmp_path / "evil.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "param/0.Dense.W.npy":
                import io

                buf = io.BytesIO()
                np.save(buf, np.array([print], dtype=object), allow_pickle=True)
                data = buf.getvalue()
            dst.writestr(item, data)
    with pytest.raises(CheckpointError, match="not a readable"):
        gc.load(evil)


def test_unknown_layer_class_in_manifest_is_refused(tmp_path):
    import json

    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    manifest = json.loads(arrays["manifest.json"].tobytes())
    manifest["model"]["layers"][0]["class"] = "os.system"
    arrays["manifest.json"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"unknown layer class 'os.system'"):
        gc.load(tmp_path / "bad.npz")


def test_save_rejects_unserialisable_extra(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        gc.save(tmp_path / "x.npz", model_fn(), extra={"f": object()})
    assert not list(tmp_path.iterdir())


# -- issue 11: checkpoints keep their promise ----------------------------------------------
import io  # noqa: E402
import json  # noqa: E402

from gradcore import checkpoint as ckpt  # noqa: E402


def _members(path) -> dict[str, bytes]:
    """The raw ``.npy`` bytes of every member of a checkpoint, by member name."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def _npy(arr, *, pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=pickle)
    return buf.getvalue()


def _write(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _manifest(members) -> dict:
    return json.loads(np.load(io.BytesIO(members["manifest.json.npy"])).tobytes())


def _with_manifest(members, manifest) -> dict[str, bytes]:
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return {**members, "manifest.json.npy": _npy(np.frombuffer(raw, np.uint8))}


def _assert_same_model(a, b):
    np.testing.assert_array_equal(a.parameters().data, b.parameters().data)
    assert sorted(a.buffers) == sorted(b.buffers)
    for k, v in a.buffers.items():
        np.testing.assert_array_equal(b.buffers[k], v)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([object()], dtype=object),
        np.array(["a", "b"]),
        np.zeros(2, dtype="V4"),
        np.zeros(2, dtype=[("a", "f4")]),
        np.zeros(3, dtype=np.complex64),
        [1.0, 2.0],
    ],
    ids=["object", "str", "void", "structured", "complex", "list"],
)
def test_failed_save_leaves_the_old_file_byte_identical(tmp_path, bad):
    """Issue example: an unsavable buffer used to be pickled by np.savez, the save returned
    normally and the good file was replaced by one that no longer loads."""
    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    before = path.read_bytes()
    model.layers[1].buffers["junk"] = bad
    with pytest.raises(CheckpointError, match=r"save: buffer/1\.BatchNorm\.junk must be a real"):
        gc.save(path, model)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    del model.layers[1].buffers["junk"]
    _assert_same_model(model, gc.load(path).model)


def test_non_finite_parameters_or_state_are_not_saved(tmp_path, data):
    """Decision: parameters, buffers and optimizer state must be finite (a diverged run must
    not overwrite the last good checkpoint); extra arrays may hold NaN."""
    X, y = data
    model = model_fn()
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    model.fit(X, y, optimizer=opt, epochs=1, verbose=False)
    path = gc.save(tmp_path / "m.npz", model, opt, extra={"curve": np.array([1.0, np.nan])})
    before = path.read_bytes()
    np.testing.assert_array_equal(gc.load(path).extra["curve"], [1.0, np.nan])
    model.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(CheckpointError, match=r"param/0\.Dense\.W holds 1 non-finite value"):
        gc.save(path, model, opt)
    model.layers[0].params["W"][0, 0] = 0.0
    model.layers[1].buffers["running_var"][1] = np.inf
    with pytest.raises(CheckpointError, match=r"buffer/1\.BatchNorm\.running_var holds 1 non"):
        gc.save(path, model, opt)
    model.layers[1].buffers["running_var"][1] = 1.0
    opt.state["exp_avg"][3] = np.nan
    with pytest.raises(CheckpointError, match=r"optim/exp_avg holds 1 non-finite"):
        gc.save(path, model, opt)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def _edit_entry(tmp_path, key, arr, name="bad.npz"):
    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    members = _members(path)
    members[f"{key}.npy"] = _npy(arr)
    return model, _write(tmp_path / name, members)


def test_load_rejects_a_parameter_of_another_shape(tmp_path):
    """Issue example: a [1, 16] array was broadcast into the [2, 16] weight."""
    model, bad = _edit_entry(tmp_path, "param/0.Dense.W", np.ones((1, 16), np.float32))
    with pytest.raises(
        CheckpointError, match=r"entry 'param/0\.Dense\.W' has shape \[1, 16\], the manifest says"
    ):
        gc.load(bad)
    with pytest.raises(CheckpointError, match=r"param/0\.Dense\.W"):
        gc.load(bad, model=model)


def test_load_rejects_complex_and_other_dtypes(tmp_path):
    """Issue example: complex values were accepted with their imaginary part dropped."""
    for i, arr in enumerate(
        [
            np.ones((2, 16), np.complex64),
            np.ones((2, 16), np.float64),
            np.ones((2, 16), ">f4"),
            np.ones((2, 16), np.int32),
        ]
    ):
        _, bad = _edit_entry(tmp_path, "param/0.Dense.W", arr, name=f"bad{i}.npz")
        with pytest.raises(CheckpointError, match=r"entry 'param/0\.Dense\.W' has dtype"):
            gc.load(bad)


def test_load_rejects_non_finite_parameters(tmp_path):
    w = np.ones((2, 16), np.float32)
    w[1, 3] = np.nan
    _, bad = _edit_entry(tmp_path, "param/0.Dense.W", w)
    with pytest.raises(CheckpointError, match=r"entry 'param/0\.Dense\.W' holds 1 non-finite"):
        gc.load(bad)


def _nested(depth: int) -> bytes:
    """A manifest whose model is ``depth`` Sequentials nested in one another, as raw JSON
    (json.dumps itself would hit the recursion limit)."""
    leaf = '{"class": "Activation", "args": {"activation": "relu", "dtype": "float32"}}'
    model = '{"class": "Sequential", "layers": [' * depth + leaf + "]}" * depth
    return (
        '{"format": "gradcore-checkpoint", "format_version": 2, "model": ' + model + ", "
        '"dtype": "float32", "layout": [], "buffers": {}}'
    ).encode()


@pytest.mark.parametrize("depth", [10**5, 1000, ckpt._MAX_LAYER_DEPTH])
def test_deeply_nested_config_is_a_checkpoint_error(tmp_path, depth):
    """Issue example: 10^5 nested Sequential configs gave RecursionError."""
    bad = _write(tmp_path / "deep.npz", _with_manifest({}, _nested(depth)))
    with pytest.raises(CheckpointError, match=r"nested deeper than|nests layers deeper than 64"):
        gc.load(bad)


def test_nesting_below_the_limit_round_trips(tmp_path):
    inner = nn.Dense(2, 2, seed=0)
    model = inner
    for _ in range(ckpt._MAX_LAYER_DEPTH - 1):
        model = nn.Sequential([model])
    path = gc.save(tmp_path / "ok.npz", model)
    _assert_same_model(model, gc.load(path).model)
    with pytest.raises(CheckpointError, match=r"save: cannot store .* deeper than 64"):
        gc.save(tmp_path / "deep.npz", nn.Sequential([model]))
    assert [p.name for p in tmp_path.iterdir()] == ["ok.npz"]


def _edit_manifest(tmp_path, edit, name="bad.npz"):
    path = gc.save(tmp_path / "m.npz", model_fn(), extra={"curve": np.arange(3.0)})
    members = _members(path)
    m = _manifest(members)
    m = edit(m) or m
    return _write(tmp_path / name, _with_manifest(members, m))


def _drop(key):
    def edit(m):
        del m[key]

    return edit


def _set(value, *keys):
    def edit(m):
        d = m
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: [1, 2], r"manifest must be a JSON object, got list"),
        (lambda m: "text", r"manifest must be a JSON object, got str"),
        (_drop("layout"), r"manifest has no 'layout' key"),
        (_drop("model"), r"manifest has no 'model' key"),
        (_set("3", "format_version"), r"checkpoint format version '3'"),
        (_set(True, "format_version"), r"checkpoint format version True"),
        (_set("x", "layout"), r"manifest\['layout'\] must be a list, got str"),
        (_set("2x16", "layout", 0, "shape"), r"manifest\['layout'\]\[0\]\['shape'\] must be a"),
        (_set([2, -16], "layout", 0, "shape"), r"manifest\['layout'\]\[0\]\['shape'\] must be"),
        (_set(7, "layout", 0, "name"), r"manifest\['layout'\]\[0\]\['name'\] must be a string"),
        (_set("yes", "layout", 0, "frozen"), r"\['frozen'\] must be true or false, got str"),
        (_set("float16", "dtype"), r"manifest\['dtype'\] must be 'float32' or 'float64'"),
        (_set(["a"], "buffers"), r"manifest\['buffers'\] must be an object, got list"),
        (_set("|O", "extra_arrays", "curve", "dtype"), r"\['curve'\]\['dtype'\] must be a real"),
        (_set("<c8", "extra_arrays", "curve", "dtype"), r"\['curve'\]\['dtype'\] must be a real"),
        (_set([], "layer_states"), r"manifest\['layer_states'\] must be an object"),
        (_set(5, "optimizer"), r"manifest\['optimizer'\] must be an object or null, got int"),
        (_set("os.system", "model", "layers", 0, "class"), r"unknown layer class 'os.system'"),
        (_set(None, "model", "layers", 0, "class"), r"\['layers'\]\[0\] must be a layer config"),
        (_set([1], "model", "layers", 0, "args"), r"\['layers'\]\[0\]\['args'\] must be an obj"),
        (
            _set(-3, "model", "layers", 0, "args", "in_features"),
            r"layer at manifest\['model'\]\['layers'\]\[0\] cannot be built \(ValueError: Dense: "
            r"in_features must be an integer >= 1, got -3\)",
        ),
        (
            _set("x", "model", "layers", 4, "block", "layers", 1, "args", "eps"),
            r"layer at manifest\['model'\]\['layers'\]\[4\]\['block'\]\['layers'\]\[1\] cannot",
        ),
        (
            _set({"bogus": 1}, "model", "layers", 0, "args"),
            r"layer at manifest\['model'\]\['layers'\]\[0\] cannot be built \(TypeError",
        ),
        (_set([5], "model", "layers"), r"layer at manifest\['model'\] cannot be built"),
        (
            _set(10**6, "model", "layers", 0, "args", "in_features"),
            r"\['layers'\]\[0\] \(Dense\) asks for sizes \[1000000, 16\]: the model config "
            r"needs more than the \d+ parameter values the layout holds",
        ),
        (_set({"rng": "x"}, "layer_states", "3.Dropout"), r"\['3\.Dropout'\] does not fit Dropout"),
        (_set({}, "layer_states", "9.Nope"), r"layer_states'\] names unknown layer '9\.Nope'"),
    ],
)
def test_malformed_manifest_names_what_is_wrong(tmp_path, edit, message):
    bad = _edit_manifest(tmp_path, edit)
    with pytest.raises(CheckpointError, match=message):
        gc.load(bad)


def test_a_registered_class_that_is_not_a_layer_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(nn.LAYER_TYPES, "Sneaky", dict)
    bad = _edit_manifest(tmp_path, _set("Sneaky", "model", "layers", 0, "class"))
    with pytest.raises(CheckpointError, match=r"class 'Sneaky' is not a gradcore Layer"):
        gc.load(bad)


def test_manifest_that_is_huge_or_not_json(tmp_path):
    members = _members(gc.save(tmp_path / "m.npz", model_fn()))
    huge = b'{"pad": "' + b"x" * (17 << 20) + b'"}'
    with pytest.raises(CheckpointError, match=r"manifest\.json is \d+ bytes, at most 16777216"):
        gc.load(_write(tmp_path / "huge.npz", _with_manifest(members, huge)))
    with pytest.raises(CheckpointError, match=r"manifest\.json is not valid JSON"):
        gc.load(_write(tmp_path / "txt.npz", _with_manifest(members, b"{not json")))
    with pytest.raises(CheckpointError, match=r"manifest\.json is not valid JSON"):
        gc.load(_write(tmp_path / "utf.npz", _with_manifest(members, b"\xff\xfe")))
    with pytest.raises(CheckpointError, match=r"manifest\.json must be a 1-D uint8 array"):
        gc.load(
            _write(
                tmp_path / "2d.npz",
                {**members, "manifest.json.npy": _npy(np.zeros((2, 2), np.uint8))},
            )
        )
    with pytest.raises(CheckpointError, match=r"entry 'manifest\.json' has dtype <f8, the man"):
        gc.load(_write(tmp_path / "f8.npz", {**members, "manifest.json.npy": _npy(np.zeros(3))}))


def _header_only(shape, dtype="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue() + b"\0" * 64


def test_header_claiming_10_12_elements_is_refused_before_allocating(tmp_path):
    """Issue example: the header is checked against the manifest and the member's size before
    any allocation (this used to be a MemoryError)."""
    members = _members(gc.save(tmp_path / "m.npz", model_fn(), extra={"big": np.zeros(16)}))
    bad = {**members, "param/0.Dense.W.npy": _header_only((10**12,))}
    with pytest.raises(CheckpointError, match=r"'param/0\.Dense\.W' has shape \[1000000000000\]"):
        gc.load(_write(tmp_path / "a.npz", bad))
    m = _manifest(members)  # the manifest agrees with the header: the member's size does not
    m["extra_arrays"]["big"] = {"shape": [10**12], "dtype": "<f8"}
    bad = _with_manifest({**members, "extra/big.npy": _header_only((10**12,), "<f8")}, m)
    with pytest.raises(
        CheckpointError,
        match=r"'extra/big' claims shape \[1000000000000\] of "
        r"float64 \(8000000000000 bytes\) but holds 64 bytes",
    ):
        gc.load(_write(tmp_path / "b.npz", bad))


def test_not_a_checkpoint_files_give_clear_errors(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"plain \.npy array, not a checkpoint"):
        gc.load(tmp_path / "plain.npy")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"the file is empty"):
        gc.load(tmp_path / "empty.npz")
    (tmp_path / "text.npz").write_bytes(b"hello world")
    with pytest.raises(CheckpointError, match=r"not a zip file \(BadZipFile"):
        gc.load(tmp_path / "text.npz")
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        gc.load(tmp_path / "folder")
    with pytest.raises(FileNotFoundError):
        gc.load(tmp_path / "nope.npz")
    np.savez_compressed(tmp_path / "zipped.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"compressed or encrypted"):
        gc.load(tmp_path / "zipped.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match=r"unexpected zip member 'readme\.txt'"):
        gc.load(tmp_path / "other.npz")


def test_missing_unexpected_and_duplicate_entries(tmp_path):
    members = _members(gc.save(tmp_path / "m.npz", model_fn()))
    less = {k: v for k, v in members.items() if k != "buffer/1.BatchNorm.running_var.npy"}
    with pytest.raises(CheckpointError, match=r"'buffer/1\.BatchNorm\.running_var' is missing"):
        gc.load(_write(tmp_path / "a.npz", less))
    more = {**members, "param/evil.npy": _npy(np.zeros(2, np.float32))}
    with pytest.raises(CheckpointError, match=r"entry 'param/evil' is not in the manifest"):
        gc.load(_write(tmp_path / "b.npz", more))
    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("param/0.Dense.W.npy", _npy(np.zeros((2, 16), np.float32)))
    with pytest.raises(CheckpointError, match=r"'param/0\.Dense\.W\.npy' appears twice"):
        gc.load(tmp_path / "c.npz")


def test_save_checks_its_arguments(tmp_path):
    model = model_fn()
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"save: path must be a str or os\.PathLike, got int"):
        gc.save(3, model)
    with pytest.raises(TypeError, match=r"save: path must be a str or os\.PathLike, got bytes"):
        gc.save(b"x.npz", model)
    with pytest.raises(TypeError, match=r"save: model must be a gradcore layer/model, got dict"):
        gc.save(tmp_path / "x.npz", {})
    with pytest.raises(TypeError, match=r"save: optimizer must be a gradcore optimizer or None"):
        gc.save(tmp_path / "x.npz", model, optimizer="adam")
    with pytest.raises(ValueError, match=r"save: optimizer must belong to the model's param"):
        gc.save(tmp_path / "x.npz", model_fn(), optimizer=opt)
    with pytest.raises(TypeError, match=r"save: extra must be a dict .*, got list"):
        gc.save(tmp_path / "x.npz", model, extra=[1])
    with pytest.raises(TypeError, match=r"save: extra keys must be strings, got int \(1\)"):
        gc.save(tmp_path / "x.npz", model, extra={1: 2})
    # Nested keys too: JSON would give {"1": ...} back for {1: ...}, silently.
    with pytest.raises(
        TypeError, match=r"save: extra\['cfg'\]\['layers'\]\[1\] must have string keys"
    ):
        gc.save(tmp_path / "x.npz", model, extra={"cfg": {"layers": [{}, {3: "relu"}]}})
    with pytest.raises(TypeError, match=r"load int \(3\) back as the string '3'\), got the key 3"):
        gc.save(tmp_path / "x.npz", model, extra={"cfg": {3: "relu"}})
    with pytest.raises(TypeError, match=r"must have string keys .* got the key True"):
        gc.save(tmp_path / "x.npz", model, extra={"m": ({True: 1},)})
    assert not (tmp_path / "x.npz").exists()  # refused before anything was written
    gc.save(tmp_path / "ok.npz", model, extra={"cfg": {"layers": [{"act": "relu"}], "n": 3}})
    assert gc.load(tmp_path / "ok.npz").extra["cfg"] == {"layers": [{"act": "relu"}], "n": 3}
    (tmp_path / "ok.npz").unlink()
    with pytest.raises(TypeError, match=r"save: extra\['z'\] must be a real numeric numpy"):
        gc.save(tmp_path / "x.npz", model, extra={"z": np.ones(2, complex)})
    with pytest.raises(TypeError, match=r"save: extra\['o'\] must be a real numeric numpy"):
        gc.save(tmp_path / "x.npz", model, extra={"o": np.array([None])})
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match=r"save: extra\['d'\] must nest at most 200"):
        gc.save(tmp_path / "x.npz", model, extra={"d": deep})
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(IsADirectoryError):
        gc.save(tmp_path / "dir.npz", model)
    assert [p.name for p in tmp_path.iterdir()] == ["dir.npz"]


def test_save_accepts_numpy_scalars_in_extra(tmp_path):
    model = model_fn()
    a = gc.load(gc.save(tmp_path / "a", model, extra={"lr": 0.5, "n": 3, "ok": True}))
    b = gc.load(
        gc.save(
            str(tmp_path / "b"),
            model,
            extra={"lr": np.float32(0.5), "n": np.int64(3), "ok": np.bool_(True)},
        )
    )
    assert a.extra == b.extra == {"lr": 0.5, "n": 3, "ok": True}
    assert [type(v) for v in b.extra.values()] == [float, int, bool]


def test_load_checks_its_arguments(tmp_path):
    model = model_fn()
    path = gc.save(tmp_path / "m.npz", model)
    with pytest.raises(TypeError, match=r"load: path must be a str or os\.PathLike, got NoneT"):
        gc.load(None)
    with pytest.raises(TypeError, match=r"load: model must be a gradcore layer/model or None"):
        gc.load(path, model="model")
    with pytest.raises(TypeError, match=r"load: optimizer must be a gradcore optimizer or None"):
        gc.load(path, model=model, optimizer=object())
    with pytest.raises(ValueError, match=r"load: optimizer must come with the model"):
        gc.load(path, optimizer=gc.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"load: optimizer must belong to the model's param"):
        gc.load(path, model=model_fn(), optimizer=gc.optim.SGD(model.parameters(), lr=0.1))


def test_failed_load_into_a_model_changes_nothing(tmp_path, data):
    X, y = data
    src = model_fn(seed=1)
    opt = gc.optim.Adam(src.parameters(), lr=1e-3)
    src.fit(X, y, optimizer=opt, epochs=1, verbose=False)
    path = gc.save(tmp_path / "m.npz", src, opt)
    target = model_fn(seed=2)
    target.layers[0].freeze("b")
    before = target.parameters().data.copy()
    bufs = {k: v.copy() for k, v in target.buffers.items()}
    sgd = gc.optim.SGD(target.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match=r"optimizer state does not fit .*'Adam', not SGD"):
        gc.load(path, model=target, optimizer=sgd)
    np.testing.assert_array_equal(target.parameters().data, before)
    for k, v in bufs.items():
        np.testing.assert_array_equal(target.buffers[k], v)
    assert target.layers[0].frozen == {"b"}
    draw = target.layers[3].rng.random()
    assert draw == model_fn(seed=2).layers[3].rng.random()  # the generator was put back too


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("Optimizer", "optimizer", "type"), r"unknown optimizer 'Optimizer'"),
        (_set("_as_arena", "optimizer", "type"), r"unknown optimizer '_as_arena'"),
        (_set({"lr": -1.0}, "optimizer", "hyper"), r"\['hyper'\] does not build Adam"),
        (_set({"lr": 0.1, "bogus": 1}, "optimizer", "hyper"), r"does not build Adam \(TypeError"),
        (_set(["exp_avg"], "optimizer", "state_keys"), r"state does not fit .*state_dict has st"),
        (_set(["x", "x"], "optimizer", "state_keys"), r"names a state twice"),
        (_set([1, 2], "optimizer", "layout"), r"optimizer state does not fit \(ValueError"),
        (_set("fast", "optimizer", "initial_lr"), r"optimizer state does not fit \(ValueError"),
    ],
)
def test_lying_optimizer_manifest(tmp_path, edit, message):
    model = model_fn()
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    path = gc.save(tmp_path / "m.npz", model, opt)
    members = _members(path)
    m = _manifest(members)
    edit(m)
    if "x" in m["optimizer"]["state_keys"]:
        members["optim/x.npy"] = _npy(np.zeros(model.parameters().size, np.float32))
    if m["optimizer"]["state_keys"] == ["exp_avg"]:
        del members["optim/exp_avg_sq.npy"]
    with pytest.raises(CheckpointError, match=message):
        gc.load(_write(tmp_path / "bad.npz", _with_manifest(members, m)))


def test_format_1_files_still_load(tmp_path):
    """Files written before format 2 (buffer/extra names only, np.savez) keep loading."""
    model = model_fn()
    opt = gc.optim.AdamW(model.parameters(), lr=1e-3)
    path = gc.save(tmp_path / "m.npz", model, opt, extra={"curve": np.arange(3.0), "e": 1})
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    m = json.loads(arrays["manifest.json"].tobytes())
    m["format_version"] = 1
    m["buffers"] = sorted(m["buffers"])
    m["extra_arrays"] = sorted(m["extra_arrays"])
    arrays["manifest.json"] = np.frombuffer(json.dumps(m).encode(), np.uint8)
    np.savez(tmp_path / "v1.npz", **arrays)
    ck = gc.load(tmp_path / "v1.npz")
    _assert_same_model(model, ck.model)
    np.testing.assert_array_equal(ck.optimizer.state["exp_avg"], opt.state["exp_avg"])
    np.testing.assert_array_equal(ck.extra["curve"], np.arange(3.0))
    arrays["buffer/1.BatchNorm.running_mean"] = np.zeros(3, np.float32)
    np.savez(tmp_path / "v1bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"buffer '1\.BatchNorm\.running_mean' is \[3\]"):
        gc.load(tmp_path / "v1bad.npz")


def test_save_to_an_existing_folder_raises_and_writes_no_sibling(tmp_path):
    """`gc.save("ckpts", model)` with ckpts/ a folder: was a silent `ckpts.npz` beside it."""
    folder = tmp_path / "ckpts"
    folder.mkdir()
    model = gc.nn.Sequential([gc.nn.Dense(3, 2, seed=0)])
    with pytest.raises(IsADirectoryError, match="give a file name"):
        gc.save(folder, model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpts"]
    assert list(folder.iterdir()) == []
