"""Regenerate the README's pictures with the package itself.

The screenshot of the widget in JupyterLab comes from the browser test instead:
``CONVSCOPE_README_SCREENSHOT=docs/images/explorer-jupyterlab.png python -m pytest -m browser``.

Run from the repository root::

    python scripts/make_readme_images.py
"""

from __future__ import annotations

from pathlib import Path

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
    print(f"wrote {sorted(path.name for path in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main()
