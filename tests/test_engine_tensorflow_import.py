"""TensorFlow loads without its C++ start-up logs, unless the user asked for them."""

from __future__ import annotations

import os
import subprocess
import sys

from convscope.engine.tensorflow_import import keep_log_lines

# What TensorFlow 2.21 printed on import on a machine with no GPU, before convscope caught it.
START_UP_LOGS = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795468586.618725    1647 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1795468586.679581    1647 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
2025-09-17 14:44:05.176998: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to register cuFFT factory
F0000 00:00:1795468586.700000    1647 something.cc:1] a fatal message
Traceback (most recent call last): a Python error that is not a log line
"""  # noqa: E501


def test_log_lines_below_the_level_are_dropped_with_their_continuations() -> None:
    kept = keep_log_lines(START_UP_LOGS, min_level=3)
    assert kept.splitlines() == [
        "F0000 00:00:1795468586.700000    1647 something.cc:1] a fatal message",
        "Traceback (most recent call last): a Python error that is not a log line",
    ]
    assert keep_log_lines(START_UP_LOGS, min_level=0) == START_UP_LOGS
    at_two = keep_log_lines(START_UP_LOGS, min_level=2)
    assert "cuFFT" in at_two
    assert "cudart_stub" not in at_two
    assert "AVX2" not in at_two


def _import_engine(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import os, convscope.engine.activations; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )


def test_importing_the_engine_prints_no_tensorflow_logs() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = _import_engine(env)
    assert result.stdout.strip() == "3"
    for noise in ("cuda", "absl", "cpu_feature_guard"):
        assert noise not in result.stderr.lower(), result.stderr


def test_a_log_level_the_user_set_is_kept() -> None:
    result = _import_engine({**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"})
    assert result.stdout.strip() == "1"


def test_a_first_session_prints_nothing_but_its_results(tmp_path) -> None:
    # What TensorFlow logs at first use, after its import (CUDA probing, "failed call to
    # cuInit", graph warnings while training) must stay quiet too, and training shows only its
    # progress bar on standard output.
    code = """
import convscope
from convscope.data.mnist import offline_digits
model = convscope.mnist_cnn()
images, labels = offline_digits("test")
probabilities = convscope.get_activations(model, images[:8], "predictions")["predictions"]
convscope.plot_grad_cam(model, images[0])
convscope.train_mnist_cnn(images[:64], labels[:64], epochs=1, augment=True)
print("\\nread right:", int((probabilities.argmax(1) == labels[:8]).sum()))
"""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["CONVSCOPE_CACHE_DIR"] = str(tmp_path)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    lines = [line.split("\r")[-1] for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, result.stdout  # the progress bar, then the result
    assert "1/1" in lines[0]
    assert lines[1].startswith("read right: ")


def test_keras_imported_after_convscope_loads_tensorflow_quietly() -> None:
    # A notebook's first cell: `import convscope`, then the user's own `import keras`.
    code = "import convscope, keras; print(float(keras.ops.sum(keras.ops.ones(3))))"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "3.0\n", "")
