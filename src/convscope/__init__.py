"""convscope: look inside convolutional networks, live, in a notebook.

The layers, from data to pixels:

- ``convscope.data``: MNIST and the user's own images as uint8 arrays;
- ``convscope.engine``: the only TensorFlow/Keras code; lazy, cached, compiled activations;
- ``convscope.render``: numpy and matplotlib; activations to pixels, grids and figures;
- ``convscope.widget``: the Explorer widget and its controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convscope.data import load_image, load_mnist, sample_images
from convscope.errors import (
    ArgumentTypeError,
    BackendNotSupportedError,
    ConvscopeError,
    ExportTooLargeError,
    ImageInputError,
    IndexOutOfRangeError,
    InvalidArgumentError,
    LabelError,
    MnistNotFoundError,
    ModelFileError,
    ModelNotSupportedError,
    NotSpatialLayerError,
    TrainingBusyError,
    UnknownLayerError,
    WeightsChangedError,
)
from convscope.render.normalise import normalise_channels
from convscope.tensorflow_logs import install_quiet_import

if TYPE_CHECKING:
    from convscope.api import (
        activation_heatmap,
        filter_patterns,
        get_activations,
        grad_cam,
        maximize_class,
        plot_channel,
        plot_feature_maps,
        plot_filter_patterns,
        plot_grad_cam,
        plot_heatmap,
        plot_maximize_class,
    )
    from convscope.engine.activations import ActivationEngine
    from convscope.engine.graph import LayerInfo
    from convscope.engine.insight import ChannelStats
    from convscope.engine.loading import load_model
    from convscope.engine.mnist_cnn import mnist_cnn
    from convscope.engine.training import TrainingRun
    from convscope.insight import (
        channel_stats,
        confusion,
        dead_channels,
        plot_confusion,
        plot_top_images,
        receptive_field,
        top_images,
    )
    from convscope.recipes import mnist_training_run, train_mnist_cnn
    from convscope.widget.explorer import Explorer

__version__ = "0.1.0"

# A notebook that imports convscope and then keras loads TensorFlow without its C++ logs.
install_quiet_import()

# TensorFlow takes seconds to import, so the names that need it load on first use.
_LAZY = {
    "ActivationEngine": "convscope.engine.activations",
    "LayerInfo": "convscope.engine.graph",
    "load_model": "convscope.engine.loading",
    "mnist_cnn": "convscope.engine.mnist_cnn",
    "train_mnist_cnn": "convscope.recipes",
    "mnist_training_run": "convscope.recipes",
    "TrainingRun": "convscope.engine.training",
    "get_activations": "convscope.api",
    "plot_feature_maps": "convscope.api",
    "plot_channel": "convscope.api",
    "grad_cam": "convscope.api",
    "activation_heatmap": "convscope.api",
    "filter_patterns": "convscope.api",
    "maximize_class": "convscope.api",
    "plot_grad_cam": "convscope.api",
    "plot_heatmap": "convscope.api",
    "plot_filter_patterns": "convscope.api",
    "plot_maximize_class": "convscope.api",
    "Explorer": "convscope.widget.explorer",
    "ChannelStats": "convscope.engine.insight",
    "channel_stats": "convscope.insight",
    "dead_channels": "convscope.insight",
    "top_images": "convscope.insight",
    "confusion": "convscope.insight",
    "receptive_field": "convscope.insight",
    "plot_top_images": "convscope.insight",
    "plot_confusion": "convscope.insight",
}

__all__ = [
    "ActivationEngine",
    "ArgumentTypeError",
    "BackendNotSupportedError",
    "ChannelStats",
    "ConvscopeError",
    "Explorer",
    "ExportTooLargeError",
    "ImageInputError",
    "IndexOutOfRangeError",
    "InvalidArgumentError",
    "LabelError",
    "LayerInfo",
    "MnistNotFoundError",
    "ModelFileError",
    "ModelNotSupportedError",
    "NotSpatialLayerError",
    "TrainingBusyError",
    "TrainingRun",
    "UnknownLayerError",
    "WeightsChangedError",
    "__version__",
    "activation_heatmap",
    "channel_stats",
    "confusion",
    "dead_channels",
    "filter_patterns",
    "get_activations",
    "grad_cam",
    "load_image",
    "load_mnist",
    "load_model",
    "maximize_class",
    "mnist_cnn",
    "mnist_training_run",
    "normalise_channels",
    "plot_channel",
    "plot_confusion",
    "plot_feature_maps",
    "plot_filter_patterns",
    "plot_grad_cam",
    "plot_heatmap",
    "plot_maximize_class",
    "plot_top_images",
    "receptive_field",
    "sample_images",
    "top_images",
    "train_mnist_cnn",
]


def __getattr__(name: str) -> Any:
    """Import the TensorFlow-backed parts of the API on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convscope' has no attribute {name!r}")
    from importlib import import_module  # noqa: PLC0415

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
