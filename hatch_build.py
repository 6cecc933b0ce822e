"""Build hook: the package index page gets the README with pictures and links that work there.

The README links its pictures (``docs/images/x.png``) and its pages (``docs/performance.md``)
relatively, which works where the source is browsed but not on the package index, which shows
the long description alone. At build time those links become absolute, under ``images-url`` and
``docs-url`` in ``[tool.hatch.metadata.hooks.custom]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

# Each kind of relative link: the part before the address, the folder it is under, the rest;
# and the key in the hook's configuration of where that folder is served.
LINKS = (
    (re.compile(r"(!\[[^\]]*\]\()(docs/images/)([^)\s]+\))"), "images-url"),  # pictures
    (re.compile(r"((?<!!)\[[^\]]*\]\()(docs/)([^)\s]+\))"), "docs-url"),  # links to pages
)


def absolute_links(text: str, urls: Mapping[str, str]) -> str:
    """Return ``text`` with its pictures and its links to ``docs/`` pages made absolute.

    ``urls`` gives each folder's address by the keys of :data:`LINKS`.
    """
    for pattern, key in LINKS:
        base = urls[key].rstrip("/") + "/"
        text = pattern.sub(lambda m, base=base: m[1] + base + m[3], text)
    return text


class CustomMetadataHook(MetadataHookInterface):
    """Set the long description from README.md, with absolute pictures and links."""

    def update(self, metadata: dict[str, Any]) -> None:
        """Fill in the dynamic ``readme`` field."""
        text = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        metadata["readme"] = {
            "content-type": "text/markdown",
            "text": absolute_links(text, {key: str(self.config[key]) for _, key in LINKS}),
        }
