"""Property tests for the package surface this slice owns: attribute access on ``gradcore``
(lazy submodules, PEP 562 ``__getattr__``/``__dir__``) and backend selection by name.

Whatever is thrown at them, they answer with a value, ``AttributeError`` (attributes) or
``TypeError``/``ValueError`` (backend names), never another exception, and a failed selection
leaves the active backend unchanged; odd spellings of a valid name select the same backend.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc

VALID = set(gc.available_backends())
FAST = settings(max_examples=60, deadline=None)

junk = st.one_of(
    st.text(max_size=12),
    st.binary(max_size=8),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
    st.sampled_from([np.float32(1.0), np.int64(0), np.bool_(True), np.array(["c"]), ("c",)]),
    st.just(b"numpy"),
)


def _is_valid_name(value) -> bool:
    return isinstance(value, str) and value.strip().lower() in VALID


@FAST
@given(name=st.one_of(st.text(max_size=20), st.sampled_from(sorted(dir(gc)))))
def test_attribute_access_answers_a_value_or_attribute_error(name):
    try:
        value = getattr(gc, name)
    except AttributeError as exc:
        assert name not in dir(gc)
        assert repr(name) in str(exc)
    else:
        assert name in dir(gc) or name in vars(gc) or hasattr(type(gc), name)
        assert value is getattr(gc, name)  # a lazy submodule is loaded once, then cached


@FAST
@given(value=junk)
def test_set_backend_rejects_junk_with_type_or_value_error(value):
    if _is_valid_name(value):
        return  # a real name (e.g. "C" drawn by chance) is not junk; set_backend would apply it
    before = gc.get_backend_name()
    with pytest.raises((TypeError, ValueError), match="backend"):
        gc.set_backend(value)
    with pytest.raises((TypeError, ValueError), match="backend"):
        with gc.use_backend(value):
            pass
    assert gc.get_backend_name() == before


@FAST
@given(
    name=st.sampled_from(sorted(VALID)),
    spelling=st.sampled_from(["plain", "upper", "padded", "np.str_"]),
)
def test_odd_spellings_select_the_same_backend(name, spelling):
    odd = {
        "plain": name,
        "upper": name.upper(),
        "padded": f"  {name}\t",
        "np.str_": np.str_(name),
    }[spelling]
    with gc.use_backend(name) as plain:
        pass
    with gc.use_backend(odd) as selected:
        assert gc.get_backend_name() == name
    assert selected is plain
