"""The space builder: hp code from a space, edits written into cells, saved spaces, the form."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jupyter_automl.errors import SpaceError
from jupyter_automl.runs._paths import list_study_folders
from jupyter_automl.space import _saved as spaces
from jupyter_automl.space import _source as space_source
from jupyter_automl.space._hp import ParamSpec, read_space
from jupyter_automl.space._source import read, render, rewrite, unmatched

TOUR = '''n_layers = hp.int("n_layers", 1, 3)
model = keras.Sequential([keras.Input((64,))])
for i in range(n_layers):
    model.add(keras.layers.Dense(hp.int(f"units_{i}", 16, 256, log=True),
                                 activation=hp.choice("activation", ["relu", "tanh"])))
model.add(keras.layers.Dense(10, activation="softmax"))
model.compile(keras.optimizers.Adam(hp.float("lr", 1e-4, 1e-1, log=True)),
              "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.2, epochs=20, batch_size=hp.choice("batch", [32, 64, 128]))
'''

BRANCHY = '''# an architecture search
# with a shared activation

def block(width):  # helper: the same "act" everywhere
    return keras.layers.Dense(width, activation=hp.choice("act", ['relu', "gelu"]))

if hp.bool("deep"):
    for i in range(hp.int("n", low=2, high=6, step=2)):
        model.add(block(hp.int(f"w_{i}", 8, 512, log=True)))
else:
    model.add(block(hp.fixed("w", 64)))
drop = hp.float(
    "dropout",   # fraction dropped
    0.0,
    0.5,
    step=0.05,
)
opt = hp.choice("opt", [keras.optimizers.Adam, keras.optimizers.SGD])
act = hp.choice("act", ['relu', "gelu"]) ; lr = hp.float('lr', lo, hi, log=use_log)
'''

ODD = ('%%automl odd --trials 3\r\n# crlf, unicode and a computed name\r\n'
       'café = hp.float("é", -1, 1)  # naïve\r\nk = hp.int(name_of_k, 1, 4)\r\n'
       'v = hp.fixed("v", None) + hp.fixed("flag", False)\r\n'
       'café ** 2\r\n')

QUAD = '''x = hp.float("x", -10, 10)
(x - 2) ** 2'''

CELLS = [TOUR, BRANCHY, ODD, QUAD, "", "# only a comment\n", "y = 1\n"]


def _specs(source: str) -> list[ParamSpec]:
    return read_space(ast.parse(space_source.split_magic(source)[1])).params


def _key(spec: ParamSpec) -> tuple[Any, ...]:
    return (spec.name, spec.kind, spec.low, spec.high, spec.step, spec.log, spec.choices,
            spec.value)


# ---------------------------------------------------------------------------------------------
# rewrite


@pytest.mark.parametrize("source", CELLS)
def test_rewriting_a_cell_with_its_own_space_changes_nothing(source: str) -> None:
    assert rewrite(source, _specs(source)) == source
    assert rewrite(source, read(source)) == source


def _edits(source: str) -> list[tuple[int, ParamSpec]]:
    """Every literal range of ``source`` edited in turn: (index in the space, edited spec)."""
    out = []
    for i, spec in enumerate(_specs(source)):
        if spec.kind in ("int", "float") and spec.high is not None and spec.low is not None:
            out.append((i, replace(spec, high=spec.high + 7)))
        elif spec.kind == "choice" and spec.choices is not None:
            out.append((i, replace(spec, choices=[*spec.choices, "extra"])))
    return out


def _call_pieces(body: str) -> tuple[list[str], list[str]]:
    """The hp calls' texts, and the texts around them (one more), from byte positions."""
    raw = body.encode()
    starts = [0]
    for line in raw.splitlines(True):
        starts.append(starts[-1] + len(line))
    nodes = sorted((n for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and getattr(n.func.value, "id", "") == "hp"), key=lambda n: n.lineno)
    calls, around, at = [], [], 0
    for n in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        a = starts[n.lineno - 1] + n.col_offset
        b = starts[n.end_lineno - 1] + n.end_col_offset  # type: ignore[operator]
        around.append(raw[at:a].decode())
        calls.append(raw[a:b].decode())
        at = b
    around.append(raw[at:].decode())
    return calls, around


@pytest.mark.parametrize("source", [TOUR, BRANCHY, ODD, QUAD])
def test_editing_one_range_changes_only_that_call(source: str) -> None:
    head, body = space_source.split_magic(source)
    old_calls, old_around = _call_pieces(body)
    edits = _edits(source)
    assert edits
    for i, edited in edits:
        specs = _specs(source)
        if sum(s.name == edited.name for s in specs) > 1:  # shared: edit every call of it
            specs = [edited if s.name == edited.name else s for s in specs]
        else:
            specs[i] = edited
        new = rewrite(source, specs)
        assert new.startswith(head)
        new_calls, new_around = _call_pieces(new[len(head):])
        assert new_around == old_around, f"text around the calls changed editing {edited.name}"
        for old, call in zip(old_calls, new_calls):
            (spec,) = _specs(call)
            assert (call == old) == (spec.name != edited.name)
            if spec.name == edited.name:
                assert _key(spec) == _key(edited)


def test_an_edit_replaces_exactly_the_call_text() -> None:
    specs = _specs(TOUR)
    specs[-2] = replace(specs[-2], low=1e-5, high=1.0)  # "lr"
    new = rewrite(TOUR, specs)
    assert new == TOUR.replace('hp.float("lr", 1e-4, 1e-1, log=True)',
                               'hp.float("lr", 1e-05, 1.0, log=True)')


def test_a_multiline_call_becomes_one_call_and_keeps_the_rest() -> None:
    specs = [replace(s, step=0.1) if s.name == "dropout" else s for s in _specs(BRANCHY)]
    new = rewrite(BRANCHY, specs)
    assert 'drop = hp.float("dropout", 0.0, 0.5, step=0.1)\nopt = ' in new
    assert new.replace('hp.float("dropout", 0.0, 0.5, step=0.1)', "X") == BRANCHY.replace(
        BRANCHY[BRANCHY.index("hp.float(\n"):BRANCHY.index(")\nopt") + 1], "X")


def test_the_kind_may_change() -> None:
    specs = [ParamSpec("n_layers", "float", low=0.5, high=3.0, step=0.5)]
    new = rewrite(TOUR, specs + _specs(TOUR)[1:])
    assert new.splitlines()[0] == 'n_layers = hp.float("n_layers", 0.5, 3.0, step=0.5)'
    choice = rewrite(QUAD, [ParamSpec("x", "choice", choices=[-1, 0, 2.5])])
    assert choice == 'x = hp.choice("x", [-1, 0, 2.5])\n(x - 2) ** 2'
    fixed = rewrite(QUAD, [ParamSpec("x", "fixed", value=2)])
    assert fixed.startswith('x = hp.fixed("x", 2)\n')


def test_fstring_names_keep_the_fstring_and_can_be_renamed() -> None:
    units = next(s for s in _specs(TOUR) if s.name == "units_{i}")
    new = rewrite(TOUR, [replace(units, low=32)])
    assert 'hp.int(f"units_{i}", 32, 256, log=True)' in new
    renamed = rewrite(TOUR, [replace(units, name="width_{i}")], origins=["units_{i}"])
    assert 'hp.int(f"width_{i}", 16, 256, log=True)' in renamed
    assert renamed.count("units_{i}") == 0 and renamed.count("\n") == TOUR.count("\n")


def test_a_literal_name_can_be_renamed_and_keeps_its_variable() -> None:
    new = rewrite(QUAD, [ParamSpec("offset", "float", low=-10, high=10)], origins=["x"])
    assert new == 'x = hp.float("offset", -10, 10)\n(x - 2) ** 2'


def test_computed_arguments_keep_their_expressions() -> None:
    lr = next(s for s in _specs(BRANCHY) if s.name == "lr")
    assert lr.low is None and not lr.exact
    new = rewrite(BRANCHY, [replace(lr, kind="int")])
    assert new.rstrip().endswith("lr = hp.int('lr', lo, hi, log=use_log)")
    k = next(s for s in _specs(ODD) if s.name == "name_of_k")
    new = rewrite(ODD, [replace(k, high=9)])
    assert "k = hp.int(name_of_k, 1, 9)\r\n" in new


def test_shared_parameters_are_edited_everywhere() -> None:
    act = ParamSpec("act", "choice", choices=["relu", "selu"])
    new = rewrite(BRANCHY, [act])
    assert new.count('hp.choice("act", ["relu", "selu"])') == 2 and "gelu" not in new


def test_new_parameters_go_after_the_leading_comments() -> None:
    extra = [ParamSpec("epochs", "int", low=5, high=50, step=5)]
    new = rewrite(BRANCHY, _specs(BRANCHY) + extra)
    assert new.startswith('# an architecture search\n# with a shared activation\n'
                          'epochs = hp.int("epochs", 5, 50, step=5)\n\ndef block')
    assert rewrite(QUAD, extra).startswith('epochs = hp.int("epochs", 5, 50, step=5)\nx = ')
    assert rewrite("# just this", extra) == (
        '# just this\nepochs = hp.int("epochs", 5, 50, step=5)\n')
    crlf = rewrite(ODD, [ParamSpec("b", "bool")])
    assert crlf.startswith("%%automl odd --trials 3\r\n# crlf, unicode and a computed name\r\n"
                           'b = hp.bool("b")\r\ncafé')


def test_new_parameter_variables_do_not_clobber_the_cell() -> None:
    new = rewrite("model.fit(x, y)\n", [ParamSpec("x", "float", low=0, high=1)])
    assert new == 'x_2 = hp.float("x", 0, 1)\nmodel.fit(x, y)\n'


def test_removed_parameters_stay_in_the_cell() -> None:
    specs = [s for s in _specs(TOUR) if s.name != "activation"]
    assert rewrite(TOUR, specs) == TOUR
    assert unmatched(TOUR, specs) == ["activation"]
    assert unmatched(TOUR, _specs(TOUR)) == []


def test_rewrite_refuses_what_it_cannot_write() -> None:
    with pytest.raises(SpaceError, match=r"hp.int\('n'\): low=5 must be below high=1"):
        rewrite(QUAD, [ParamSpec("n", "int", low=5, high=1)])
    with pytest.raises(SpaceError, match="syntax error on line 2"):
        rewrite("x = 1\nx = (\n", [])
    with pytest.raises(SpaceError, match=r"'w_\{i\}' has 3 calls in the cell but 2 ranges"):
        source = "\n".join(f'hp.int(f"w_{{i}}", 1, {n})' for n in (2, 3, 4))
        rewrite(source, [ParamSpec("w_{i}", "int", 1, 2, exact=False),
                         ParamSpec("w_{i}", "int", 1, 3, exact=False)])
    with pytest.raises(SpaceError, match=r"\*args or \*\*kwargs"):
        rewrite("hp.int('n', *bounds)", [ParamSpec("n", "int", low=1, high=2)])


# ---------------------------------------------------------------------------------------------
# render

SPACES = [
    [ParamSpec("units", "int", 16, 256, step=1, log=True)],
    [ParamSpec("n", "int", 2, 10, step=2), ParamSpec("lr", "float", 1e-5, 0.1, log=True),
     ParamSpec("drop", "float", 0.0, 0.5, step=0.05), ParamSpec("bn", "bool"),
     ParamSpec("act", "choice", choices=["relu", "it's", 'say "hi"', 3, 2.5, None, True]),
     ParamSpec("opt", "fixed", value="adam"), ParamSpec("none", "fixed", value=None),
     ParamSpec("off", "fixed", value=False), ParamSpec("big", "fixed", value=[1, [2, 3]])],
    [ParamSpec("learning-rate", "float", 0.001, 1.0), ParamSpec("learning rate", "bool"),
     ParamSpec("1st", "int", 1, 2, 1), ParamSpec("float", "int", 1, 3, 1),
     ParamSpec("hp", "bool"), ParamSpec("class", "bool"), ParamSpec("é", "bool"),
     ParamSpec("w_{i}", "int", 1, 5, 1)],
]


def test_render_writes_one_short_assignment_per_parameter() -> None:
    assert render(SPACES[0]) == 'units = hp.int("units", 16, 256, log=True)\n'
    lines = render(SPACES[1]).splitlines()
    assert lines[:3] == ['n = hp.int("n", 2, 10, step=2)',
                         'lr = hp.float("lr", 1e-05, 0.1, log=True)',
                         'drop = hp.float("drop", 0.0, 0.5, step=0.05)']
    assert lines[3] == 'bn = hp.bool("bn")'
    names = [line.split(" = ")[0] for line in render(SPACES[2]).splitlines()]
    assert names == ["learning_rate", "learning_rate_2", "p_1st", "float_", "hp_", "class_", "é",
                     "w_i"]


@pytest.mark.parametrize("specs", SPACES)
def test_render_reads_back_as_the_same_space(specs: list[ParamSpec]) -> None:
    code = render(specs)
    back = read_space(ast.parse(code)).params
    assert [_key(s) for s in back] == [_key(s) for s in specs]
    assert [s.line for s in back] == list(range(1, len(specs) + 1))
    assert rewrite(code, back) == code


def test_render_of_a_cell_space_writes_shared_parameters_once() -> None:
    code = render(_specs(TOUR))
    assert code.count('"activation"') == 1 and 'hp.int("units_{i}", 16, 256, log=True)' in code


def test_render_refuses_bad_or_incomplete_spaces() -> None:
    with pytest.raises(SpaceError, match=r"hp.float\('lr'\): log=True needs low > 0"):
        render([ParamSpec("lr", "float", 0, 1, log=True)])
    with pytest.raises(SpaceError, match=r"hp.int\('u'\): no value for low \(the cell computes"):
        render([ParamSpec("u", "int", None, 5, exact=False)])
    with pytest.raises(SpaceError, match="defined twice with different ranges"):
        render([ParamSpec("w_{i}", "int", 1, 5, exact=False),
                ParamSpec("w_{i}", "int", 1, 6, exact=False)])


# ---------------------------------------------------------------------------------------------
# Saved spaces


def test_saved_spaces_round_trip(tmp_path: Path) -> None:
    specs = SPACES[1] + [replace(s, line=7) for s in SPACES[0]]
    path = spaces.save(tmp_path / "runs", "mlp", specs)
    assert path == tmp_path / "runs" / "spaces" / "mlp.json"
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())
    loaded = spaces.load(tmp_path / "runs", "mlp")
    assert [_key(s) for s in loaded] == [_key(s) for s in specs]
    assert all(s.line is None for s in loaded)
    pattern = [ParamSpec("w_{i}", "int", 1, 5, exact=False)]
    spaces.save(tmp_path / "runs", "p", pattern)
    assert not spaces.load(tmp_path / "runs", "p")[0].exact
    assert spaces.names(tmp_path / "runs") == ["mlp", "p"]
    assert spaces.names(tmp_path / "nowhere") == []
    assert list_study_folders(tmp_path / "runs") == []  # the spaces folder is not a study


def test_saved_spaces_fail_clearly(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(SpaceError, match="no saved space 'cnn' in .*; none is saved there yet"):
        spaces.load(runs, "cnn")
    spaces.save(runs, "mlp", SPACES[0])
    spaces.save(runs, "rnn", SPACES[0])
    with pytest.raises(SpaceError, match="no saved space 'cnn' .*saved spaces: mlp, rnn"):
        spaces.load(runs, "cnn")
    with pytest.raises(SpaceError, match=r"hp.int\('n'\): low=5 must be below high=1"):
        spaces.save(runs, "bad", [ParamSpec("n", "int", 5, 1)])
    assert spaces.names(runs) == ["mlp", "rnn"]
    with pytest.raises(SpaceError, match="space name '../x' must be"):
        spaces.save(runs, "../x", SPACES[0])
    (runs / "spaces" / "edited.json").write_text(json.dumps(
        {"params": [{"name": "lr", "kind": "float", "low": 0, "high": 1, "log": True}]}))
    with pytest.raises(SpaceError, match=r"hp.float\('lr'\): log=True needs low > 0"):
        spaces.load(runs, "edited")
    (runs / "spaces" / "broken.json").write_text("{not json")
    with pytest.raises(SpaceError, match="broken.json is unreadable"):
        spaces.load(runs, "broken")


# ---------------------------------------------------------------------------------------------
# The builder


@pytest.fixture
def builder_cls() -> Any:
    from jupyter_automl.ui.space_builder import SpaceBuilder

    return SpaceBuilder


def test_importing_the_package_leaves_widgets_out() -> None:
    code = ("import sys, jupyter_automl, jupyter_automl.space._saved, "
            "jupyter_automl.space._source\n"
            "print([m for m in ('ipywidgets', 'optuna', 'tensorflow', 'plotly') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_builder_opens_a_cell(builder_cls: Any) -> None:
    b = builder_cls(source=TOUR, runs_dir="unused")
    assert "automl-space-builder" in b._dom_classes
    assert [r.name.value for r in b.rows] == ["n_layers", "units_{i}", "activation", "lr",
                                              "batch"]
    units = b.rows[1]
    assert (units.kind.value, units.low.value, units.high.value, units.log.value) == (
        "int", "16", "256", True)
    assert units.step.value == "" and units.step.placeholder == "step 1"
    assert b.rows[2].choices.value == "relu, tanh" and b.rows[4].choices.value == "32, 64, 128"
    assert b.rows[2].low.layout.display == "none" and b.rows[2].low.disabled
    assert units.choices.layout.display == "none" and units.low.layout.display is None
    assert b.errors == [] and "✓ 5 parameters" in b.status.value
    assert b.written_source() == TOUR
    assert [_key(s) for s in b.specs] == [_key(s) for s in _opened_tour()]


def _opened_tour() -> list[ParamSpec]:
    seen: dict[str, ParamSpec] = {}
    for s in _specs(TOUR):
        seen.setdefault(s.name, s)
    return list(seen.values())


def test_builder_validates_as_you_type_with_hp_messages(builder_cls: Any) -> None:
    b = builder_cls(source=QUAD)
    row = b.rows[0]
    row.low.value = "20"
    expected = "hp.float('x', line 1): low=20 must be below high=10; swap them, or use " \
               "hp.fixed('x', 20) for a constant"
    assert b.errors == [expected]
    with pytest.raises(SpaceError) as raised:
        read_space(ast.parse('x = hp.float("x", 20, 10)'))
    assert str(raised.value) == expected
    assert "✗" in b.status.value and "low=20 must be below high=10" in b.status.value
    with pytest.raises(SpaceError, match="low=20 must be below"):
        _ = b.specs
    row.low.value = "abc"
    assert b.errors == ["hp.float('x', line 1): low='abc' is not a number"]
    row.low.value = ""
    assert b.errors == ["hp.float('x', line 1): low is empty; give a number"]
    row.low.value = "0"
    row.log.value = True
    assert "log=True needs low &gt; 0" in b.status.value
    row.low.value = "1e-3"
    assert b.errors == [] and b.specs[0].low == 0.001 and b.specs[0].log
    row.name.value = " "
    assert b.errors == ["hp.float: the parameter name must be a non-empty string, got ''"]


def test_builder_kinds_show_their_fields(builder_cls: Any) -> None:
    b = builder_cls()
    row = b.add_row()
    assert (row.name.value, row.kind.value, row.low.value, row.high.value) == (
        "param_1", "float", "0.0", "1.0")
    row.kind.value = "choice"
    assert row.low.layout.display == "none" and row.choices.layout.display is None
    assert b.errors == ["hp.choice('param_1'): the list of options is empty; give at least one "
                        "option"]
    row.choices.value = "relu, 'tanh', 32, 1e-3, None, \"a,b\""
    assert b.specs[0].choices == ["relu", "tanh", 32, 0.001, None, "a,b"]
    row.choices.value = "relu, gelu, relu"
    assert b.errors == ["hp.choice('param_1'): options ['relu', 'gelu', 'relu'] are not distinct"]
    row.kind.value = "fixed"
    row.choices.value = "[1, 2]"
    assert b.specs[0].value == [1, 2] and row.choices.placeholder == "value"
    row.kind.value = "bool"
    assert row.choices.layout.display == "none" and b.specs[0].kind == "bool"
    row.kind.value = "int"
    row.low.value, row.high.value, row.step.value = "1", "9.0", "0.5"
    assert b.errors == ["hp.int('param_1'): low, high and step must be whole numbers for hp.int; "
                        "use hp.float for fractional ranges"]
    row.step.value = "2"
    assert _key(b.specs[0]) == ("param_1", "int", 1, 9, 2, False, None, None)


def test_builder_rows_move_and_go_with_their_buttons(builder_cls: Any) -> None:
    b = builder_cls()
    b.add_button.click()
    b.add_button.click()
    b.add_button.click()
    assert [r.name.value for r in b.rows] == ["param_1", "param_2", "param_3"]
    b.rows[2].down.click()  # past the end: nothing
    b.rows[2].up.click()
    assert [r.name.value for r in b.rows] == ["param_1", "param_3", "param_2"]
    b.rows[0].down.click()
    assert [r.name.value for r in b.rows] == ["param_3", "param_1", "param_2"]
    b.rows[1].remove.click()
    assert [s.name for s in b.specs] == ["param_3", "param_2"]
    assert b.children[:2] == (b.rows[0].box, b.rows[1].box)
    b.move_row(1, -1)
    b.remove_row(0)
    assert [s.name for s in b.specs] == ["param_3"]
    b.add_row()
    assert b.rows[-1].name.value == "param_1"
    b.rows[-1].name.value = "param_3"
    b.rows[-1].high.value = "2"
    assert b.errors == ["parameter 'param_3' is defined twice with different ranges: "
                        "float 0.0..1.0 vs float 0.0..2; give each range its own name"]


def test_write_to_cell_changes_only_the_edited_call(builder_cls: Any) -> None:
    written: list[str] = []
    cell = "%%automl digits --trials 40\n" + TOUR
    b = builder_cls(source=cell, on_write=written.append)
    b.rows[3].high.value = "0.5"  # lr
    b.rows[3].low.value = "1e-5"
    b.rows[1].name.value = "width_{i}"
    b.write_button.click()
    expected = cell.replace('hp.float("lr", 1e-4, 1e-1, log=True)',
                            'hp.float("lr", 1e-05, 0.5, log=True)').replace(
        'f"units_{i}"', 'f"width_{i}"')
    assert written == [expected] and b.pending_source == expected
    assert b.written_source() == expected and b.source == expected
    assert "written to the cell" in b.status.value
    b.remove_row(2)  # activation: stays in the cell, and the status says so
    assert "kept in the cell as written (not in this space): &#x27;activation&#x27;" in \
        b.status.value
    new = b.add_row(ParamSpec("epochs", "int", 5, 30))
    new.step.value = "5"
    b.write_button.click()
    assert written[-1] == expected.replace(
        "--trials 40\n", '--trials 40\nepochs = hp.int("epochs", 5, 30, step=5)\n')
    b.rows[0].low.value = "9"
    b.write_button.click()
    assert len(written) == 2 and "✗ hp.int(&#x27;n_layers&#x27;, line 1): low=9" in b.status.value


def test_builder_keeps_computed_arguments(builder_cls: Any) -> None:
    b = builder_cls(source=BRANCHY)
    lr = next(r for r in b.rows if r.name.value == "lr")
    assert lr.low.value == "" and lr.low.placeholder == "computed in the cell"
    assert [r.name.value for r in b.rows].count("act") == 1
    assert b.errors == [] and b.written_source() == BRANCHY
    lr.log.value = True
    assert b.written_source().rstrip().endswith("lr = hp.float('lr', lo, hi, log=True)")
    with pytest.raises(SpaceError, match=r"hp.choice\('opt', line 18\): no value for options"):
        b.to_code()
    b.remove_row(next(i for i, r in enumerate(b.rows) if r.name.value == "opt"))
    with pytest.raises(SpaceError, match=r"hp.float\('lr', line 19\): no value for low"):
        b.to_code()


def test_builder_saves_and_reopens_a_space(builder_cls: Any, tmp_path: Path) -> None:
    b = builder_cls(source=TOUR, runs_dir=tmp_path / "runs")
    b.save_name.value = "mlp"
    b.save_button.click()
    assert "saved as &#x27;mlp&#x27;" in b.status.value
    loaded = spaces.load(tmp_path / "runs", "mlp")
    assert [_key(s) for s in loaded] == [_key(s) for s in b.specs]
    b.save_name.value = "no/slash"
    b.save_button.click()
    assert "✗ space name" in b.status.value
    again = builder_cls(loaded, source=QUAD + "\n")
    assert again.written_source().startswith('n_layers = hp.int("n_layers", 1, 3)\n')
    assert again.to_code() == render(loaded)


def test_builder_uses_the_sessions_runs_dir(builder_cls: Any, ip: Any, tmp_path: Path) -> None:
    assert Path(builder_cls().runs_dir) == tmp_path / "runs"


def test_a_space_built_from_nothing_runs_a_study(builder_cls: Any, ip: Any) -> None:
    b = builder_cls()
    for _ in range(3):
        b.add_row()
    b.rows[0].name.value = "x"
    b.rows[0].low.value, b.rows[0].high.value = "-10", "10"
    b.rows[1].name.value = "units"
    b.rows[1].kind.value = "int"
    b.rows[1].low.value, b.rows[1].high.value = "16", "256"
    b.rows[1].log.value = True
    b.rows[2].name.value = "act"
    b.rows[2].kind.value = "choice"
    b.rows[2].choices.value = "relu, tanh"
    assert b.errors == []
    body = b.to_code() + '(x - 2) ** 2 + units / 256 + (act == "tanh")\n'
    ip.run_cell_magic("automl", "built --trials 3", body)
    result = ip.user_ns["_automl"]
    assert result.done == 3
    assert set(result.best_params) == {"x", "units", "act"}


def test_builder_keeps_the_pbt_mark(builder_cls: Any) -> None:
    """A cell's mutable=True (--scheduler pbt) survives an edit in the builder: on the call
    edited and on the others."""
    source = ('lr = hp.float("lr", 1e-4, 1e-1, log=True, mutable=True)\n'
              'units = hp.int("units", 8, 64)\n'
              'opt = hp.choice("opt", ["adam", "sgd"], mutable=True)\n')
    b = builder_cls(source=source)
    assert b.written_source() == source
    b.rows[0].high.value = "0.2"
    written = b.written_source()
    assert 'hp.float("lr", 0.0001, 0.2, log=True, mutable=True)' in written, written
    assert 'hp.choice("opt", ["adam", "sgd"], mutable=True)' in written
    assert {s.name: s.mutable for s in _specs(written)} == {"lr": True, "units": False,
                                                           "opt": True}
