"""What a warm worker kernel runs to catch up with a run's setup, or None: a new kernel."""

from __future__ import annotations

from jupyter_automl.workers._warm import Replay, plan

HEAD = ("%load_ext jupyter_automl",)


def replay(setup: tuple[str, ...] = (), **shipped: str) -> Replay:
    return Replay(HEAD, setup, tuple(shipped.items()))


def test_the_same_setup_needs_nothing() -> None:
    assert plan(replay(("a = 1",), w="load w"), replay(("a = 1",), w="load w")) == []


def test_appended_setup_cells_and_new_or_changed_variables_are_replayed() -> None:
    assert plan(replay(("a = 1",)), replay(("a = 1", "b = 2"))) == ["b = 2"]
    assert plan(replay(("a = 1",), w="load w#1"),
                replay(("a = 1",), w="load w#2", v="load v")) == ["load w#2", "load v"]
    assert plan(replay(), replay(("a = 1",), w="load w")) == ["a = 1", "load w"]


def test_anything_else_needs_a_new_kernel() -> None:
    assert plan(None, replay()) is None  # nothing known of it
    assert plan(replay(("a = 1",)), replay(("a = 2",))) is None  # a cell changed
    assert plan(replay(("a = 1", "b = 2")), replay(("a = 1",))) is None  # a cell removed
    assert plan(replay(("a = 1", "b = 2")), replay(("b = 2", "a = 1"))) is None  # reordered
    assert plan(replay(w="load w"), replay()) is None  # w would linger
    # a new setup cell would see w, which a new kernel loads only after the setup
    assert plan(replay(("a = 1",), w="load w"), replay(("a = 1", "b = w"), w="load w")) is None
    assert plan(Replay(("other",), (), ()), replay()) is None  # other first steps
