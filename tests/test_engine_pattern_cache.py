"""The disk cache's key of the weights: exact, and quiet under numpy 2."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

import convscope
from convscope.engine.pattern_cache import weights_digest


def test_weights_digest_is_the_hash_of_every_weight_and_warns_of_nothing() -> None:
    model = convscope.mnist_cnn()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy 2's __array__ copy warning came from here
        digest = weights_digest(model)
    reference = hashlib.blake2b(digest_size=16)  # numpy's own bytes of get_weights()
    for variable, value in zip(model.weights, model.get_weights(), strict=True):
        array = np.ascontiguousarray(value)
        reference.update(f"{variable.path}:{array.dtype}:{array.shape};".encode())
        reference.update(array.tobytes())
    assert digest == reference.hexdigest()
    model.weights[0].assign(model.weights[0] + 1.0)
    assert weights_digest(model) != digest
