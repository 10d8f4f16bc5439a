"""Layers and models: ``Dense``, ``Activation``, ``BatchNorm``, ``LayerNorm``, ``LSTM``,
``Dropout``, ``Residual``, ``Sequential``. See ``gradcore.nn.base`` for the layer protocol."""

from .activation import Activation, Dropout
from .base import LAYER_TYPES, Layer, layer_from_config
from .batchnorm import BatchNorm
from .container import Residual, Sequential
from .dense import Dense
from .layernorm import LayerNorm
from .lstm import LSTM
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
    "layer_from_config",
]
