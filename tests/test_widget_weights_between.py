"""Weights a cell changes between requests: whatever is shown or kept next is of the model now.

A request from the page checks the weights first; so must everything a cell or the kernel's
own loop does between requests: a page of thumbnails, the channel panel, filter patterns that
were computing while the weights moved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import convscope
from convscope.widget.views import DeeperViews


@pytest.fixture
def retrained(mnist_test: tuple[np.ndarray, np.ndarray]) -> tuple[convscope.Explorer, Any]:
    """An Explorer, then other weights set in a cell: the pretrained model's, shuffled."""
    images, labels = mnist_test
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images[:600], labels[:600], figure="png")
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.permutation(w.reshape(-1)).reshape(w.shape) for w in model.get_weights()]
    )
    return explorer, model


def keras_classes(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model(images[..., np.newaxis].astype(np.float32))).argmax(axis=1)


@pytest.mark.parametrize("action", ["page", "channel_panel"])
def test_a_page_or_the_panel_after_a_cell_set_weights_shows_the_model_now(
    retrained: tuple[convscope.Explorer, Any],
    mnist_test: tuple[np.ndarray, np.ndarray],
    action: str,
) -> None:
    """Before, the thumbnails' predicted classes stayed the old model's until the next move."""
    explorer, model = retrained
    if action == "page":
        explorer.page = 3
    else:
        explorer.channel_panel = True
    shown = [entry["index"] for entry in explorer._thumb_meta]
    expected = keras_classes(model, mnist_test[0][shown])
    assert [entry["predicted"] for entry in explorer._thumb_meta] == expected.tolist()
    explorer.close()


def test_patterns_finished_after_the_weights_moved_on_are_dropped(model: keras.Model) -> None:
    """A pattern job that ends after ``forget()`` (new weights followed) keeps nothing."""
    news: list[tuple[str, bool]] = []
    views = DeeperViews(convscope.ActivationEngine(model), (0.0, 255.0), lambda *n: news.append(n))
    stale = np.zeros((24, 28, 28, 1), np.float32)

    def meanwhile_new_weights(*_args: object, **_options: object) -> np.ndarray:
        views.forget()  # the Explorer followed new weights while this job ran
        return stale

    views.gradients.filter_patterns = meanwhile_new_weights  # type: ignore[method-assign]
    assert views.patterns("conv1") is None  # a job starts
    views.wait()
    assert news[-1] == ("conv1", True)
    assert views.patterns("conv1") is None  # not the stale patterns: a new job for these
    views.wait()
    views.close()


def during_the_first_ascent(
    views: DeeperViews, monkeypatch: pytest.MonkeyPatch, after_step: Callable[[int], None]
) -> list[int]:
    """Call ``after_step(done)`` after each step of the first pattern job's ascent only.

    Returns the list of jobs started (one entry each), filled as they start.
    """
    real, jobs = views.gradients.filter_patterns, []

    def counted(*args: Any, **options: Any) -> np.ndarray:
        report = options["on_step"]

        def step(done: int, total: int) -> None:
            if len(jobs) == 1:
                after_step(done)
            report(done, total)

        jobs.append(1)
        return real(*args, **{**options, "on_step": step})

    monkeypatch.setattr(views.gradients, "filter_patterns", counted)
    return jobs


def test_wait_shows_the_patterns_of_the_weights_now_when_they_moved_mid_ascent(
    mnist_test: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A script's ``ex.wait()`` then ``ex.save()`` must save patterns, not "computing"."""
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "explorer"))  # no ascent done
    images, labels = mnist_test
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images[:600], labels[:600], figure="png")
    views = explorer._controller.views
    other = [weight * 1.5 for weight in model.get_weights()]

    def weights_move(done: int) -> None:
        if done == 2:
            model.set_weights(other)  # a cell, a snapshot: the first ascent mixes two

    jobs = during_the_first_ascent(views, monkeypatch, weights_move)
    explorer.update(view="pattern", layer="conv1")
    explorer.wait()
    assert len(jobs) == 2  # the first dropped, the second for the weights now
    assert not views.busy()
    assert "computing" not in explorer.status
    fresh = convscope.mnist_cnn()
    fresh.set_weights(other)
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "quiet"))  # afresh, not read
    expected = convscope.filter_patterns(fresh, "conv1", steps=20, progress=False)
    np.testing.assert_array_equal(views.patterns("conv1"), expected)
    explorer.close()


def test_patterns_whose_weights_went_away_and_back_mid_ascent_are_not_saved(
    mnist_test: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The epoch slider moved off and back during the ascent: the same digest at both ends.

    The steps in between ran on other weights, so the patterns must not reach the disk cache,
    from which the next job (and the static call) would read them as the first weights'.
    """
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "explorer"))
    images, labels = mnist_test
    model = convscope.mnist_cnn()
    explorer = convscope.Explorer(model, images[:600], labels[:600], figure="png")
    views = explorer._controller.views
    weights = model.get_weights()

    def slider_off_and_back(done: int) -> None:
        if done in (2, 4):  # off to others, back two steps later
            model.set_weights([w * 1.5 for w in weights] if done == 2 else weights)
            views.forget()  # as the Explorer's use_weights does

    jobs = during_the_first_ascent(views, monkeypatch, slider_off_and_back)
    explorer.update(view="pattern", layer="conv1")
    explorer.wait()
    assert len(jobs) == 2  # the first dropped before saving, the second computed afresh
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "quiet"))
    quiet = convscope.filter_patterns(convscope.mnist_cnn(), "conv1", steps=20, progress=False)
    np.testing.assert_array_equal(views.patterns("conv1"), quiet)
    explorer.close()
