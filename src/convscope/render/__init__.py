"""Render: numpy and matplotlib only. Activations in, pixels and figures out; never a model."""
