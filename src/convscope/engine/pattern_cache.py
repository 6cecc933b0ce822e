"""Filter patterns on disk, under the user's cache home, keyed by the model's weights and settings.

Patterns take seconds to minutes to compute and depend only on the weights, the layer and the
search's settings, so they are kept between sessions: in ``$CONVSCOPE_CACHE_DIR/patterns``, or
else ``$XDG_CACHE_HOME/convscope/patterns``, or else ``~/.cache/convscope/patterns``; never next
to the user's own files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

CACHE_DIR_VARIABLE = "CONVSCOPE_CACHE_DIR"


def cache_home() -> Path:
    """Return convscope's cache folder (not created): see the module's docstring."""
    explicit = os.environ.get(CACHE_DIR_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "convscope"


def weights_digest(model: keras.Model) -> str:
    """Return a short hash of every weight of ``model``, with its path and shape."""
    digest = hashlib.blake2b(digest_size=16)
    for variable in model.weights:
        # Variable.numpy(), not convert_to_numpy: that one goes through np.array(variable),
        # whose __array__ has no copy keyword and warns under numpy 2.
        value = np.ascontiguousarray(variable.numpy())
        digest.update(f"{variable.path}:{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def settings_key(*parts: object) -> str:
    """Return a file-name-safe hash of the settings that decide a pattern."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


class PatternStore:
    """Patterns of one layer and one set of settings, one array per channel, in one file.

    Parameters
    ----------
    key : str
        From :func:`settings_key`.
    folder : Path, optional
        Defaults to ``cache_home() / "patterns"``.

    """

    def __init__(self, key: str, folder: Path | None = None) -> None:
        self.path = (folder if folder is not None else cache_home() / "patterns") / f"{key}.npz"

    def load(self) -> dict[int, np.ndarray]:
        """Return the stored patterns by channel; nothing if the file is missing or unreadable."""
        try:
            with np.load(self.path) as stored:
                channels, patterns = stored["channels"], stored["patterns"]
        except (OSError, ValueError, KeyError):
            return {}
        return dict(zip(channels.tolist(), patterns, strict=True))

    def save(self, patterns: dict[int, np.ndarray]) -> None:
        """Write ``patterns`` (all the layer's known channels), atomically; a failure is ignored.

        A read-only or full cache folder only costs the next call its recomputation.
        """
        channels = sorted(patterns)
        temporary: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=self.path.parent, suffix=".npz.tmp", delete=False
            ) as handle:
                temporary = Path(handle.name)
                np.savez(
                    handle,
                    channels=np.asarray(channels, np.int64),
                    patterns=np.stack([patterns[c] for c in channels]),
                )
            temporary.replace(self.path)
        except OSError:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
