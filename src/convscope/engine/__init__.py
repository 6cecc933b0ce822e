"""Engine: the only layer that imports TensorFlow/Keras. Models in, numpy activations out."""

from convscope.engine.tensorflow_import import import_tensorflow, require_tensorflow_backend

# Before any engine module imports Keras: TensorFlow loads without its C++ log noise, and a
# JAX or PyTorch backend is refused here, by name, rather than deep inside a first call.
import_tensorflow()
require_tensorflow_backend()
