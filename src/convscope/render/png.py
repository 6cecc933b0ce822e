"""PNG bytes of a picture, made for speed: every row unfiltered, deflated at zlib's fastest level.

Pillow's encoder tries every PNG filter on every row and keeps the best; on the Explorer's
900×450 figure that takes 5.8 ms at ``compress_level=1``, against 2.0 ms here, for frames
about 15 % larger (32 KB against 27 KB), which a local socket carries in well under a
millisecond. Any PNG decoder reads them: the format is the standard one, filter type 0.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {3: 2, 4: 6}  # channels → PNG colour type: truecolour, truecolour with alpha


def encode_png(pixels: np.ndarray) -> bytes:
    """Return ``pixels``, ``uint8`` ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, as PNG bytes."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in _COLOUR_TYPES:  # noqa: PLR2004
        raise ValueError(f"expected uint8 (H, W, 3 or 4) pixels, got {pixels.dtype} {pixels.shape}")
    height, width, channels = pixels.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter 0, its bytes
    rows[:, 1:] = pixels.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    return b"".join(
        [
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: its length, kind, data and the CRC of kind and data."""
    return b"".join(
        [struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(kind + data))]
    )
