"""Regenerate the README's pictures with the package itself.

The screenshots of the widget in JupyterLab (``explorer-jupyterlab.png``, ``explorer-panel.png``,
``explorer-draw.png``, ``explorer-dark.png``, ``explorer-insight.png``) come from
``python scripts/screenshots.py`` instead.

Run from the repository root::

    python scripts/make_readme_images.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import convscope

OUT = Path("docs/images")


def main() -> None:
    """Write the static-API and Explorer pictures into docs/images."""
    OUT.mkdir(parents=True, exist_ok=True)
    images, labels = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    figure = convscope.plot_feature_maps(model, images[0], "conv1", images_per_row=12, width=8)
    figure.savefig(OUT / "feature-maps-conv1.png", dpi=80)
    figure = convscope.plot_feature_maps(model, images[0], "conv2", cmap="magma", width=8)
    figure.savefig(OUT / "feature-maps-conv2.png", dpi=80)

    explorer = convscope.Explorer(model, images, labels, figure="png")
    explorer.update(layer="conv2", channel=13, sample=42)
    explorer.save(OUT / "explorer-view.png", dpi=80)
    explorer_views(explorer)
    explorer.update(layer="conv3", channel=13, sample=42, probe=(2, 4))  # a receptive field
    explorer.save(OUT / "explorer-probe.png", dpi=64)
    explorer.probe = None
    explorer_compare(explorer, images, labels)
    looking_deeper(model, images)
    dataset_insight(model, images, labels)
    print(f"wrote {sorted(path.name for path in OUT.glob('*.png'))}")


def explorer_compare(explorer: convscope.Explorer, images: np.ndarray, labels: np.ndarray) -> None:
    """Write "why is this 7 read as a 1?": the 7 read as a 1, beside the 7 read right nearest it."""
    seven, one = 7, 1
    predicted = np.asarray(explorer.engine.predict(images)).argmax(axis=1)
    misread = int(np.flatnonzero((labels == seven) & (predicted == one))[0])
    right = np.flatnonzero((labels == seven) & (predicted == seven))
    distance = ((images[right].astype(np.float32) - images[misread]) ** 2).sum(axis=(1, 2))
    explorer.update(layer="conv3", channel=2, sample=misread, compare=int(right[distance.argmin()]))
    explorer.save(OUT / "explorer-compare.png")
    explorer.compare = None


def explorer_views(explorer: convscope.Explorer) -> None:
    """Write one picture per Explorer view of the same digit, as ``explorer.save`` draws them."""
    explorer.update(layer="conv3", channel=7, sample=42)
    for view in ("heatmap", "grad-cam", "pattern"):
        explorer.view = view
        explorer.wait()  # the patterns are computed in the background
        path = OUT / f"explorer-{view}.png"
        explorer.save(path, dpi=56)
        with Image.open(path) as saved:  # 64 colours: a quarter of the bytes, the same look
            small = saved.convert("RGB").quantize(64)
        small.save(path, optimize=True)
    explorer.view = "maps"


def dataset_insight(model: object, images: object, labels: object) -> None:
    """Write the pictures of the "Dataset insight" section."""
    figure = convscope.plot_top_images(model, images, "conv2", 5, progress=False)
    figure.savefig(OUT / "top-images-conv2-5.png", dpi=64)
    figure = convscope.plot_confusion(model, images, labels, progress=False)
    figure.savefig(OUT / "confusion.png", dpi=56)


def looking_deeper(model: object, images: object) -> None:
    """Write the pictures of the "Looking deeper" section: one per view, small."""
    convscope.plot_grad_cam(model, images[0]).savefig(OUT / "grad-cam.png", dpi=70)
    convscope.plot_heatmap(model, images[0], "conv1").savefig(OUT / "heatmap-conv1.png", dpi=70)
    figure = convscope.plot_filter_patterns(model, "conv2", images_per_row=16, width=8)
    figure.savefig(OUT / "filter-patterns-conv2.png", dpi=64)
    figure = convscope.plot_maximize_class(model, width=8)
    figure.savefig(OUT / "maximize-class.png", dpi=80)


if __name__ == "__main__":
    main()
