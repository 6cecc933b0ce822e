"""A marimo app whose cells react to the Explorer: it is wrapped in ``mo.ui.anywidget``."""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import convscope

    images, labels = convscope.load_mnist("test")
    explorer = convscope.Explorer(images=images[:200], labels=labels[:200], figure="png")
    wrapped = mo.ui.anywidget(explorer)
    wrapped  # noqa: B018 - a marimo cell shows its last expression
    return mo, wrapped


@app.cell
def _(mo, wrapped):
    # Runs again whenever the Explorer's state changes, as any marimo UI element's dependents do.
    state = wrapped.value
    mo.md(f"watching sample {state['sample']} of {state['layer']}, channel {state['channel']}")


if __name__ == "__main__":
    app.run()
