"""Layers and models: ``Dense``, ``Activation``, ``BatchNorm``, ``LayerNorm``, ``LSTM``,
``Dropout``, ``Residual``, ``Sequential``; the initializers (``gc.nn.init``, also ``gc.init``).
See ``gradcore.nn.base`` for the layer protocol.

Inside, imports point down: ``init`` (initializers), ``registry`` (the layer classes a
checkpoint may name) and ``_checks`` (argument and input checks) at the bottom, then ``base``
(``Layer``; ``_arena``: its side of the parameter arena), then the layers, which import only
those (never each other), then ``container``.
"""

from . import init
from .activation import Activation, Dropout
from .base import Layer
from .batchnorm import BatchNorm
from .container import Residual, Sequential
from .dense import Dense
from .layernorm import LayerNorm
from .lstm import LSTM
from .registry import LAYER_TYPES, layer_from_config
from .rnn import SimpleRNN

__all__ = [
    "LAYER_TYPES",
    "LSTM",
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Layer",
    "LayerNorm",
    "Residual",
    "Sequential",
    "SimpleRNN",
    "init",
    "layer_from_config",
]
