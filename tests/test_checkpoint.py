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
