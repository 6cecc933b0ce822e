"""The sdist and the wheel carry what a fresh install needs, the licence, and a README that shows.

The wheel is built from the unpacked sdist, as pip does from the package index, so a file the
sdist forgets (the build hook, the frontend, the notebooks) fails here.
"""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+: CI's main run

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMAGES_URL = PYPROJECT["tool"]["hatch"]["metadata"]["hooks"]["custom"]["images-url"]
DOCS_URL = PYPROJECT["tool"]["hatch"]["metadata"]["hooks"]["custom"]["docs-url"]
NOTEBOOKS = ("quickstart", "bring_your_own_model", "looking_deeper", "dataset_insight")


def _build(kind: str, source: Path, out: Path) -> Path:
    """Run hatchling's own PEP 517 hook in ``source``, as a build front end does."""
    code = f"import sys; from hatchling.build import build_{kind}; print(build_{kind}(sys.argv[1]))"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code, str(out)],
        cwd=source, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    sdist = _build("sdist", ROOT, out)
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "unpacked", filter="data")
    (unpacked,) = (out / "unpacked").iterdir()
    return sdist, _build("wheel", unpacked, out)


@pytest.mark.slow
def test_wheel_ships_frontend_weights_notebooks_and_licence(built: tuple[Path, Path]) -> None:
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = "convscope-0.1.0.dist-info"
    assert {
        "convscope/static/widget.js",
        "convscope/static/widget.css",
        "convscope/static/static_model.js",  # the static export's page (widget/export.py)
        "convscope/weights/pretrained_cnn.npz",
        "convscope/__main__.py",
        "convscope/py.typed",
        f"{dist_info}/licenses/LICENSE",
        *(f"convscope/notebooks/{name}.ipynb" for name in NOTEBOOKS),
    } <= names
    # No data set in the wheel: MNIST and the training replay are fetched or made at run time.
    assert not [n for n in names if "ubyte" in n or n.endswith((".csv", ".gz"))]
    assert [n for n in names if n.endswith(".npz")] == ["convscope/weights/pretrained_cnn.npz"]
    source = (ROOT / "js" / "widget.js").read_text()
    assert zipfile.ZipFile(wheel).read("convscope/static/widget.js").decode() == source
    licence = zipfile.ZipFile(wheel).read(f"{dist_info}/licenses/LICENSE").decode()
    assert licence == (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")


@pytest.mark.slow
def test_sdist_ships_the_licence_the_pictures_and_the_build_hook(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    pictures = {f"docs/images/{path.name}" for path in (ROOT / "docs" / "images").glob("*.png")}
    shipped = {"LICENSE", "README.md", "docs/performance.md", "hatch_build.py", "pyproject.toml"}
    assert shipped | {"js/widget.js"} <= names  # the README links docs/performance.md
    assert pictures <= names
    assert "src/convscope/weights/pretrained_cnn.npz" in names


@pytest.mark.slow
def test_metadata_has_the_licence_classifiers_extras_and_absolute_pictures(
    built: tuple[Path, Path],
) -> None:
    _, wheel = built
    raw = zipfile.ZipFile(wheel).read("convscope-0.1.0.dist-info/METADATA").decode()
    metadata = email.message_from_string(raw)
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    classifiers = metadata.get_all("Classifier")
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    requires = metadata.get_all("Requires-Dist")
    for extra in ("jupyterlab>=4", "notebook>=7", "scikit-image>=0.22"):
        assert f"{extra}; extra == 'demo'" in requires
    # The package index shows the description alone: every picture needs an absolute address,
    # and each must be a file that docs/images/ really has.
    description = metadata.get_payload()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", description)
    readme_pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    assert len(pictures) == len(readme_pictures) > 10
    for address in pictures:
        assert address.startswith(IMAGES_URL), address
        assert (ROOT / "docs" / "images" / address.removeprefix(IMAGES_URL)).is_file(), address
    assert "](docs/" not in description
    # So does every link to a page of docs/ (docs/performance.md), to a heading it has.
    pages = re.findall(r"(?<!!)\[[^\]]*\]\((" + re.escape(DOCS_URL) + r"[^)\s]+)\)", description)
    readme = (ROOT / "README.md").read_text()
    readme_pages = re.findall(r"(?<!!)\[[^\]]*\]\((docs/[^)\s]+)\)", readme)
    assert len(pages) == len(readme_pages) >= 5  # the README's links to docs/performance.md
    for address in pages:
        path, _, anchor = address.removeprefix(DOCS_URL).partition("#")
        assert (ROOT / "docs" / path).is_file(), address
        assert not anchor or anchor in heading_anchors(ROOT / "docs" / path), address


def heading_anchors(page: Path) -> set[str]:
    """Return the anchors of a Markdown page's headings, as a repository browser makes them."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    titles = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)  # outside code blocks
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-") for title in titles}
