"""The ipympl canvas of ``figure="ipympl"``: every frame it sends is the whole figure."""

from __future__ import annotations

import numpy as np
from ipympl.backend_nbagg import Canvas

from convscope.render.png import encode_png, opaque_rgb

OPAQUE = 255  # alpha of a pixel that hides what is behind it


class WholeFrameCanvas(Canvas):  # type: ignore[misc]  # ipympl is untyped
    """ipympl's canvas, sending the whole figure on every draw instead of a diff.

    matplotlib's web canvas sends each frame as the pixels that changed since the frame before,
    and ipympl's page decodes each frame by setting it as the ``src`` of one ``Image``. A frame
    that arrives before the previous one has loaded cancels that load; its own diff is then
    painted over a picture that never got the previous changes, and those pixels stay wrong
    until they change again (a probability bar left standing, strokes of an earlier digit).
    A whole frame is right whatever was lost before it. Opaque, "Up"-filtered and at zlib level 1
    (:func:`~convscope.render.png.encode_png`), it costs the kernel less than the diff did.
    """

    def get_diff_image(self) -> bytes | None:
        """Return the figure as drawn, a whole PNG frame (``set_image_mode("full")``)."""
        if self.syncing_data_url:
            # No page has connected yet: ipympl keeps the picture for the notebook file from
            # matplotlib's own bookkeeping, which its diff keeps up to date.
            return super().get_diff_image()  # type: ignore[no-any-return]
        self.set_image_mode("full")
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        if pixels[..., 3].min() == OPAQUE:  # opaque, as the Explorer's figure: RGB, less to deflate
            pixels = opaque_rgb(pixels)
        return encode_png(pixels)
