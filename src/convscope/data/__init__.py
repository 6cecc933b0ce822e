"""Data: MNIST digits and the user's own images, as plain uint8 numpy arrays."""

from convscope.data.images import load_image, sample_images
from convscope.data.mnist import MNIST_DIR_ENV, MnistSource, load_mnist

__all__ = ["MNIST_DIR_ENV", "MnistSource", "load_image", "load_mnist", "sample_images"]
