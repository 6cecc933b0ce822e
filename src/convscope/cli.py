"""The ``convscope`` command: ``demo``, ``quickstart``, and ``export`` (a lesson in one file)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the ``convscope`` command line."""
    from convscope import __version__  # noqa: PLC0415 - numpy only, no TensorFlow

    parser = argparse.ArgumentParser(prog="convscope", description=__doc__)
    parser.add_argument("--version", action="version", version=f"convscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="open JupyterLab on the quickstart notebook")
    demo.add_argument("--dir", default="convscope-notebooks", help="where to copy the notebooks")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--port", type=int, default=None)

    quick = commands.add_parser("quickstart", help="write a feature-map PNG of one MNIST digit")
    quick.add_argument("--out", default="convscope-feature-maps.png")
    quick.add_argument("--layer", default="conv1")
    quick.add_argument("--sample", type=int, default=0)
    quick.add_argument("--dpi", type=int, default=100)

    export = commands.add_parser(
        "export", help="write the Explorer as one HTML file that works offline, with no kernel"
    )
    export.add_argument("out", help="the .html file to write")
    export.add_argument("--model", default=None, help="a .keras file (default: the bundled CNN)")
    export.add_argument("--images", default=None, help="a .npy of images (default: MNIST test)")
    export.add_argument("--labels", default=None, help="a .npy of their true classes")
    export.add_argument("--samples", default=None, help="indices, e.g. 0-99 or 3,5,8")
    export.add_argument("--layers", default=None, help="comma-separated (default: all)")
    export.add_argument("--views", default="maps,grad-cam,heatmap", help="comma-separated")
    export.add_argument("--cmaps", default=None, help="comma-separated (default: viridis)")
    export.add_argument("--max-mb", type=float, default=25.0, help="refuse a larger file")
    export.add_argument("--teaching", action="store_true", help="captions under each panel")
    export.add_argument("--title", default="convscope Explorer")

    args = parser.parse_args(argv)
    if args.command == "export":
        return _export(args)
    if args.command == "quickstart":
        return _quickstart(args.out, args.layer, args.sample, args.dpi)
    return _demo(Path(args.dir), no_browser=args.no_browser, port=args.port)


def _quickstart(out: str, layer: str, sample: int, dpi: int) -> int:
    import numpy as np  # noqa: PLC0415 - keep `convscope --help` instant

    import convscope  # noqa: PLC0415

    images, labels = convscope.load_mnist("test")
    model = convscope.mnist_cnn()
    probabilities = convscope.get_activations(model, images[sample], "predictions")["predictions"]
    figure = convscope.plot_feature_maps(
        model,
        images[sample],
        layer,
        title=f"{layer} on MNIST test digit {sample}: label {labels[sample]}, "
        f"predicted {int(np.argmax(probabilities))}",
    )
    figure.savefig(out, dpi=dpi)
    print(f"wrote {out}")  # noqa: T201
    return 0


def _export(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415 - keep `convscope --help` instant

    import convscope  # noqa: PLC0415

    images = None if args.images is None else np.load(args.images)
    labels = None if args.labels is None else np.load(args.labels)
    try:
        explorer = convscope.Explorer(
            args.model, images, labels, figure="none", teaching=args.teaching
        )
        path = explorer.export_html(
            args.out,
            None if args.samples is None else parse_samples(args.samples),
            None if args.layers is None else _names(args.layers),
            _names(args.views),
            cmaps=None if args.cmaps is None else _names(args.cmaps),
            max_bytes=round(args.max_mb * 1e6),
            title=args.title,
        )
    except convscope.ConvscopeError as error:
        print(f"convscope export: {error}", file=sys.stderr)  # noqa: T201
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")  # noqa: T201
    return 0


def parse_samples(text: str) -> list[int]:
    """Read sample indices written as ``0-99``, ``3,5,8`` or a mix: ``0-9,42``."""
    chosen: list[int] = []
    for part in _names(text):
        first, _, last = part.partition("-")
        if not (first.isdigit() and (not last or last.isdigit())):
            raise SystemExit(
                f"convscope export: --samples {text!r}: write indices as 0-99 or 3,5,8"
            )
        chosen += range(int(first), int(last or first) + 1)
    return chosen


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def copy_notebooks(folder: Path) -> list[Path]:
    """Copy the bundled notebooks into ``folder``, leaving any the user already has alone."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = resources.files("convscope") / "notebooks"
    if not shipped.is_dir():  # an editable install: the repository's own folder
        shipped = Path(__file__).resolve().parents[2] / "notebooks"
    copied = []
    for notebook in shipped.iterdir():
        target = folder / notebook.name
        if notebook.name.endswith(".ipynb") and not target.exists():
            with resources.as_file(notebook) as source:
                shutil.copyfile(source, target)
            copied.append(target)
    return copied


def jupyter_lab_command(folder: Path, *, no_browser: bool, port: int | None) -> list[str]:
    """Return the ``jupyter lab`` command that serves ``folder`` and opens its quickstart.

    The quickstart is JupyterLab's default URL, so the address it prints (on a machine with no
    browser, or with ``--no-browser``) opens the notebook too, not the Launcher.
    """
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={folder.resolve()}",
        "--LabApp.default_url=/lab/tree/quickstart.ipynb",
    ]
    if no_browser:
        command.append("--no-browser")
    if port is not None:
        command.append(f"--port={port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and Colab-like machines
        command.append("--allow-root")
    return command


# What the demo's notebooks need beyond convscope itself: ``pip install "convscope[demo]"``.
DEMO_MODULES = ("jupyterlab", "skimage")
DEMO_INSTALL = 'pip install "convscope[demo]"'


def missing_demo_modules() -> list[str]:
    """Return the modules of the ``[demo]`` extra that are not installed."""
    return [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]


def _demo(folder: Path, *, no_browser: bool, port: int | None) -> int:
    missing = missing_demo_modules()
    if missing:
        print(  # noqa: T201
            f"convscope demo needs JupyterLab and the notebooks' extras ({', '.join(missing)} "
            f"missing). Install them with:\n\n    {DEMO_INSTALL}\n\nthen run `convscope demo` "
            "again.",
            file=sys.stderr,
        )
        return 1
    copy_notebooks(folder)
    command = jupyter_lab_command(folder, no_browser=no_browser, port=port)
    print(f"copied the notebooks to {folder.resolve()}; starting JupyterLab")  # noqa: T201
    return subprocess.call(command)  # noqa: S603 - our own interpreter and arguments
