"""Check that a Keras model can be inspected, and find its layers by name."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import keras

from convscope.engine.graph import LayerInfo
from convscope.errors import ArgumentTypeError, ModelNotSupportedError, UnknownLayerError

__all__ = ["check_model", "find_layer"]

_IMAGE_RANK = 4  # (batch, height, width, channels)


def check_model(model: object) -> keras.Model:
    """Return ``model`` if convscope can inspect it, else raise an error that says why.

    Parameters
    ----------
    model : object
        Should be a built ``keras.Model`` with exactly one input of shape
        ``(batch, height, width, channels)``.

    Returns
    -------
    keras.Model

    Raises
    ------
    ArgumentTypeError
        When ``model`` is not a Keras model (a ``TypeError`` too).
    ModelNotSupportedError
        When the model is not built, or does not have exactly one image input.

    """
    if not isinstance(model, keras.Model):
        raise ArgumentTypeError(
            f"Expected a keras.Model, got {type(model).__name__}. Load a saved model with "
            "convscope.load_model('model.keras') or keras.saving.load_model."
        )
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError) as error:
        inputs = []
        if model.built:
            raise ModelNotSupportedError(
                f"Model {model.name!r} has no symbolic inputs ({error}). Rebuild it with "
                "keras.Input, e.g. keras.Sequential([keras.Input((28, 28, 1)), ...])."
            ) from error
    if not model.built or not inputs:
        raise ModelNotSupportedError(
            f"Model {model.name!r} is not built, so its layers have no shapes yet. Start it "
            "with keras.Input(shape=...), or call it once on a batch of images."
        )
    if len(inputs) != 1:
        names = ", ".join(tensor.name for tensor in inputs)
        raise ModelNotSupportedError(
            f"Model {model.name!r} has {len(inputs)} inputs ({names}); convscope inspects "
            "models with one image input. Build a sub-model on the image branch, e.g. "
            "keras.Model(model.inputs[0], model.get_layer('...').output)."
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != _IMAGE_RANK:
        raise ModelNotSupportedError(
            f"Model {model.name!r} takes input of shape {shape[1:]}, not images. convscope "
            "needs one input of shape (height, width, channels), such as (28, 28, 1)."
        )
    return model


def find_layer(
    layers: tuple[LayerInfo, ...], name: str, opaque: Mapping[str, str] | None = None
) -> LayerInfo:
    """Return the layer called ``name``, or raise with the closest names as suggestions.

    Parameters
    ----------
    layers : tuple of LayerInfo
        The model's rows.
    name : str
        The path asked for.
    opaque : mapping of str to str, optional
        Nested models whose inside cannot be read, with the reason: a path inside one gets
        that reason instead of a list of suggestions.

    Raises
    ------
    UnknownLayerError
        When no layer has that name.
    ModelNotSupportedError
        When ``name`` lies inside a nested model that cannot be entered.

    """
    for info in layers:
        if info.name == name:
            return info
    for model_path, reason in (opaque or {}).items():
        if str(name).startswith(f"{model_path}/"):
            raise ModelNotSupportedError(
                f"Cannot show {name!r}: convscope cannot see inside nested model "
                f"{model_path!r} because {reason}. Its own output is the row {model_path!r}; "
                f"to look inside it, inspect it on its own: "
                f"model.get_layer({model_path.rsplit('/', 1)[-1]!r})."
            )
    names = [info.name for info in layers]
    close = difflib.get_close_matches(str(name), names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownLayerError(
        f"No layer {name!r} in this model.{hint} Valid names: {', '.join(names[:40])}"
        + (" ..." if len(names) > 40 else "")  # noqa: PLR2004
    )
