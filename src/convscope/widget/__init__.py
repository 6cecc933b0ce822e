"""Widget: the Explorer anywidget, its kernel-side controller, and the figure display glue."""
