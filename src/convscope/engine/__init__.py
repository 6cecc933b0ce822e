"""Engine: the only layer that imports TensorFlow/Keras. Models in, numpy activations out."""

from convscope.engine.tensorflow_import import import_tensorflow

# Before any engine module imports Keras, so that TensorFlow loads without its C++ log noise.
import_tensorflow()
