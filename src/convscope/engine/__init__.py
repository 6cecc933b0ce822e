"""Engine: the only layer that imports TensorFlow/Keras. Models in, numpy activations out."""
