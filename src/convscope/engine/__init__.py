"""Engine: the only layer that imports TensorFlow/Keras. Models in, numpy activations out."""

from convscope.engine.tensorflow_import import (
    import_tensorflow,
    refuse_other_backend_by_name,
    require_tensorflow_backend,
)

# Before any engine module imports Keras: a JAX or PyTorch backend is refused here, by name,
# rather than deep inside a first call, and TensorFlow loads without its C++ log noise.
refuse_other_backend_by_name()
import_tensorflow()
require_tensorflow_backend()
