# The argument checks of every binding (included by _kernels.pyx before the families).
#
# One wording, the contract's (gradcore.backends uses the same on the Python side):
#     "{op}: {name} must be {expected}, got {given}"
# e.g. "dense_forward: W must have dtype float32 like x, got float64",
#      "layernorm_forward: gamma must have shape (8,), got (7,)".
# Exception types: not an ndarray, a wrong dtype -> TypeError; a wrong rank or shape, a
# NON-CONTIGUOUS array (no silent copy: an output could not be written back, and a hidden copy
# of an input costs a pass; callers copy with np.ascontiguousarray), a read-only output,
# outputs overlapping arguments they would corrupt, a bad value -> ValueError.
# Read-only inputs are accepted (const memoryviews). Everything here runs before `with nogil:`.

import numpy as _np
from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer

cdef object _F32 = _np.dtype(_np.float32)
cdef object _F64 = _np.dtype(_np.float64)
cdef object _I64 = _np.dtype(_np.int64)
cdef object _NDARRAY = _np.ndarray


cdef object _float_dtype(str op, str name, object a):
    """The dtype of the leading array ``a`` of a call: a float32 or float64 ndarray, else
    TypeError."""
    if not isinstance(a, _NDARRAY):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    dt = a.dtype
    if dt != _F32 and dt != _F64:
        raise TypeError(f"{op}: {name} must be a float32 or float64 ndarray, got {dt}")
    return dt


cdef int _check(str op, str name, object a, object dtype, object shape, bint out,
                str like) except -1:
    """``a`` is an ndarray of ``dtype`` (the dtype of argument ``like``, or a fixed dtype if
    ``like`` is None), of ``shape`` (a tuple; None: any), C-contiguous, and writeable if it is
    an output."""
    if not isinstance(a, _NDARRAY):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        ref = f" like {like}" if like is not None else ""
        raise TypeError(f"{op}: {name} must have dtype {dtype}{ref}, got {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous, got strides {a.strides} "
                         f"(pass np.ascontiguousarray({name}))")
    if out and not a.flags.writeable:
        raise ValueError(f"{op}: {name} is an output and must be writeable, got a read-only "
                         "array")
    return 0


cdef tuple _float_rows(str op, object x):
    """(dtype, N, C) of the leading array x[N, C] of a call: a float32/float64 2-d ndarray."""
    dt = _float_dtype(op, "x", x)
    _check_ndim(op, "x", x, 2, "[N, C]")
    N, C = x.shape
    return dt, N, C


cdef int _check_ndim(str op, str name, object a, int ndim, str what) except -1:
    """``a`` (an ndarray) has ``ndim`` dimensions; ``what`` names them ("[N, C]")."""
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-d {what}, got shape {a.shape}")
    return 0


# ---- overlap: one checker, over raw data addresses ------------------------------------------

cdef inline bint _ovl(const void *a, Py_ssize_t na, const void *b, Py_ssize_t nb) noexcept nogil:
    """True if the byte ranges [a, a+na) and [b, b+nb) intersect (empty ranges never do)."""
    cdef size_t pa = <size_t>a, pb = <size_t>b
    return na > 0 and nb > 0 and pa < pb + <size_t>nb and pb < pa + <size_t>na


cdef int _disjoint(str op, int nout, int n, const void **ptr, Py_ssize_t *nbytes, tuple names,
                   bint same_ok) except -1:
    """Buffers 0..nout-1 are outputs: each must not overlap any other buffer 0..n-1 (a C
    loop: this runs on every call, so no Python objects per pair; an absent or empty buffer
    has nbytes 0). ``same_ok``: an output may instead be an input itself (same address and
    size: an elementwise op in place), but not overlap it partially."""
    cdef int a, b
    for a in range(nout):
        for b in range(a + 1, n):
            if not _ovl(ptr[a], nbytes[a], ptr[b], nbytes[b]):
                continue
            if same_ok and b >= nout:
                if ptr[a] == ptr[b] and nbytes[a] == nbytes[b]:
                    continue
                raise ValueError(f"{op}: {names[a]} must be {names[b]} itself or not overlap "
                                 "it, got a partial overlap (it would corrupt the result)")
            raise ValueError(f"{op}: {names[a]} must not share memory with {names[b]}")
    return 0


cdef size_t _addr(object a) except? 0:
    """Data address of a contiguous array (buffer protocol: ~0.1 us vs ~1.4 us for
    __array_interface__)."""
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_ANY_CONTIGUOUS)
    cdef size_t p = <size_t>view.buf
    PyBuffer_Release(&view)
    return p


cdef int _disjoint_arrays(str op, int nout, tuple arrays, tuple names) except -1:
    """_disjoint over checked C-contiguous ndarrays (outputs first); None or empty arrays
    take part as empty buffers."""
    cdef const void *ptr[24]
    cdef Py_ssize_t nbytes[24]
    cdef int i, n = len(arrays)
    if n > 24:
        raise ValueError(f"{op}: too many arguments to check for overlap ({n})")
    for i in range(n):
        a = arrays[i]
        if a is None or a.size == 0:
            ptr[i] = NULL
            nbytes[i] = 0
        else:
            ptr[i] = <const void *>_addr(a)
            nbytes[i] = a.nbytes
    return _disjoint(op, nout, n, ptr, nbytes, names, False)


# ---- scratch and the thread count -------------------------------------------------------------

cdef object _scratch(object ws, str name, tuple shape, object dtype):
    """Scratch array from the caller's Workspace if given, else a fresh one."""
    if ws is None:
        return _np.empty(shape, dtype)
    a = ws.get(name, shape, dtype)
    if (not isinstance(a, _NDARRAY) or a.shape != shape or a.dtype != dtype
            or not a.flags.c_contiguous or not a.flags.writeable):
        raise ValueError(f"ws.get({name!r}, {shape}, {dtype}) did not return a writeable "
                         f"C-contiguous array of that shape and dtype")
    return a


cdef inline int64_t _nwork() noexcept:
    cdef int n = gc_max_threads()
    return n if n > 1 else 1
