"""A marimo app that shows the Explorer: the marimo browser test runs it with ``marimo run``."""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import convscope

    images, labels = convscope.load_mnist("test")
    explorer = convscope.Explorer(images=images[:200], labels=labels[:200], figure="png")
    explorer  # noqa: B018 - a marimo cell shows its last expression
    return (explorer,)


if __name__ == "__main__":
    app.run()
