"""Build hook: the package index page gets the README with pictures and links that work there.

The README links its pictures (``docs/images/x.png``) and its pages (``docs/performance.md``)
relatively, which works where the source is browsed but not on the package index, which shows
the long description alone. At build time those links become absolute, under ``images-url`` and
``docs-url`` in ``[tool.hatch.metadata.hooks.custom]``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

IMAGE_LINK = re.compile(r"(!\[[^\]]*\]\()(docs/images/[^)\s]+)(\))")
PAGE_LINK = re.compile(r"((?<!!)\[[^\]]*\]\()(docs/[^)\s]+)(\))")  # a link, not a picture


def absolute_image_links(text: str, images_url: str) -> str:
    """Return ``text`` with every ``![...](docs/images/...)`` made absolute under ``images_url``."""
    base = images_url.rstrip("/") + "/"
    return IMAGE_LINK.sub(lambda m: m[1] + base + m[2].removeprefix("docs/images/") + m[3], text)


def absolute_page_links(text: str, docs_url: str) -> str:
    """Return ``text`` with every link ``[...](docs/...)`` that is no picture made absolute."""
    base = docs_url.rstrip("/") + "/"
    return PAGE_LINK.sub(lambda m: m[1] + base + m[2].removeprefix("docs/") + m[3], text)


class CustomMetadataHook(MetadataHookInterface):
    """Set the long description from README.md, with absolute pictures and links."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in the dynamic ``readme`` field."""
        text = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        metadata["readme"] = {
            "content-type": "text/markdown",
            "text": absolute_page_links(
                absolute_image_links(text, str(self.config["images-url"])),
                str(self.config["docs-url"]),
            ),
        }
