"""One hierarchy of errors, importable from where code has always imported them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import convscope
from convscope import errors
from convscope.data import mnist
from convscope.engine import loading

ALL = [
    errors.ArgumentTypeError,
    errors.InvalidArgumentError,
    errors.ModelNotSupportedError,
    errors.ModelFileError,
    errors.UnknownLayerError,
    errors.ImageInputError,
    errors.LabelError,
    errors.IndexOutOfRangeError,
    errors.MnistNotFoundError,
    errors.BackendNotSupportedError,
]


@pytest.mark.parametrize("error", ALL, ids=lambda error: error.__name__)
def test_every_error_is_a_convscope_error_exported_at_the_top(error: type) -> None:
    assert issubclass(error, convscope.ConvscopeError)
    assert getattr(convscope, error.__name__) is error
    assert error.__name__ in convscope.__all__


def test_errors_keep_the_builtin_bases_older_code_catches() -> None:
    assert issubclass(errors.ConvscopeError, ValueError)
    assert issubclass(errors.ArgumentTypeError, TypeError)
    assert issubclass(errors.UnknownLayerError, KeyError)
    assert issubclass(errors.IndexOutOfRangeError, IndexError)
    assert issubclass(errors.MnistNotFoundError, FileNotFoundError)
    assert issubclass(errors.ModelFileError, ValueError)
    assert str(errors.UnknownLayerError("no layer 'x'")) == "no layer 'x'"  # not a quoted repr


def test_the_layers_raise_the_same_classes() -> None:
    assert loading.ModelFileError is errors.ModelFileError
    assert mnist.MnistNotFoundError is errors.MnistNotFoundError


def test_the_errors_module_needs_no_tensorflow() -> None:
    code = "import sys, convscope.errors; print('tensorflow' in sys.modules)"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_checks_name_the_fix() -> None:
    assert errors.check_int("batch_size", np.int64(8)) == 8
    with pytest.raises(errors.ArgumentTypeError, match="batch_size must be an integer such as 16"):
        errors.check_int("batch_size", True)
    with pytest.raises(errors.InvalidArgumentError, match=r"use e\.g\. batch_size=16"):
        errors.check_int("batch_size", 0)
    assert errors.check_number("width", 3, maximum=10, example=5) == 3.0
    with pytest.raises(errors.InvalidArgumentError, match="above 0 and at most 10"):
        errors.check_number("width", float("nan"), maximum=10, example=5)
    with pytest.raises(errors.InvalidArgumentError, match="choose one of 'a', 'b'"):
        errors.check_choice("mode", "c", ("a", "b"))
    with pytest.raises(errors.ArgumentTypeError, match="mode must be one of"):
        errors.check_choice("mode", np.array(["a"]), ("a", "b"))
    assert errors.check_layer_names(("conv1", "conv2")) == ("conv1", "conv2")
    assert errors.check_layer_names("conv1") == ("conv1",)
    with pytest.raises(errors.ArgumentTypeError, match="an item of layers=3"):
        errors.check_layer_names(["conv1", 3])
    with pytest.raises(errors.InvalidArgumentError, match="layers is empty"):
        errors.check_layer_names([])
    with pytest.raises(errors.ArgumentTypeError, match="sample must be an integer"):
        errors.check_index("sample", 1.0, 5)
