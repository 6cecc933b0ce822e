"""Load ``.keras`` model files with safe mode on, turning Keras's failures into clear errors."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras

from convscope.errors import ArgumentTypeError, ModelFileError


def load_model(path: str | os.PathLike[str], *, compile: bool = True) -> keras.Model:  # noqa: A002 - Keras's own name
    """Load a Keras 3 ``.keras`` model with ``safe_mode=True``.

    Parameters
    ----------
    path : path-like
        A ``.keras`` file written by ``model.save``.
    compile : bool
        Restore the optimizer and loss too.

    Returns
    -------
    keras.Model

    Raises
    ------
    ArgumentTypeError
        When ``path`` is not a path.
    ModelFileError
        When the file is missing, is not a ``.keras`` zip archive, or Keras cannot rebuild it.
        Safe mode stays on: a file that needs arbitrary code (a ``Lambda`` layer) is refused.

    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"A model file is named by a path such as 'model.keras', got {path!r}. Pass a "
            "keras.Model itself to the Explorer and the static API."
        )
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"No model file at {path}. Pass the path of a .keras file.")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a Keras 3 .keras file (a zip archive written by model.save). "
            "Save your model with model.save('name.keras'), or pass the keras.Model itself."
        )
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:
        raise ModelFileError(
            f"Keras could not load {path}: {error}. The file may be corrupt or written by an "
            "incompatible Keras version; re-save it with model.save('name.keras'). convscope "
            "keeps safe_mode on, so models with Lambda layers must be passed as objects."
        ) from error
