"""Layers and models: ``Dense``, ``Activation``, ``BatchNorm``, ``LayerNorm``, ``LSTM``,
``Dropout``, ``Residual``, ``Sequential``. See ``gradcore.nn.base`` for the layer protocol."""

from .activation import Activation, Dropout
from .base import Layer
from .batchnorm import BatchNorm
from .container import Residual, Sequential
from .dense import Dense
from .layernorm import LayerNorm
from .lstm import LSTM

__all__ = [
    "LSTM",
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Layer",
    "LayerNorm",
    "Residual",
    "Sequential",
]
