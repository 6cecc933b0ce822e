"""The ``convscope`` command: ``demo`` opens the notebooks, ``quickstart`` writes a picture."""

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

    args = parser.parse_args(argv)
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
