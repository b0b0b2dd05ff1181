"""The trial table: a small anywidget (sortable by a click on a header, a click on a row
selects that trial everywhere) and the same table as static HTML for saved notebooks.
"""

from __future__ import annotations

import html
from typing import Any

import anywidget
import traitlets

from ..results import cell_text

LIMIT = 100  # rows the live table sends to the front end at most

_ESM = """
function render({ model, el }) {
  const draw = () => {
    const columns = model.get("columns"), rows = model.get("rows");
    const sortBy = model.get("sort_by"), ascending = model.get("ascending");
    const selected = model.get("selected");
    const table = document.createElement("table");
    table.className = "automl-trials";
    const head = table.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c + (c === sortBy ? (ascending ? " \\u25B2" : " \\u25BC") : "");
      th.onclick = () => {
        model.set("ascending", c === sortBy ? !ascending : true);
        model.set("sort_by", c);
        model.save_changes();
      };
      head.appendChild(th);
    }
    const total = model.get("total");
    if (total > rows.length) {
      const caption = table.createCaption();
      caption.textContent = `${rows.length} of ${total} trials shown: ` +
        (sortBy === "number" && ascending ? "the newest" : `the first by ${sortBy}`) +
        "; click a header to sort them all";
    }
    const body = table.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      tr.className = "state-" + String(r.state).toLowerCase() +
        (r.number === selected ? " selected" : "");
      tr.dataset.trial = r.number;
      tr.onclick = () => { model.set("selected", r.number); model.save_changes(); };
      for (const c of columns) tr.insertCell().textContent = r._text[c] ?? "";
      if (r.error) tr.title = r.error;
    }
    el.replaceChildren(table);
  };
  for (const name of ["rows", "columns", "sort_by", "ascending", "selected", "total"])
    model.on("change:" + name, draw);
  draw();
}
export default { render };
"""

_CSS = """
.automl-trials { border-collapse: collapse; font-size: 12px; width: 100%; }
.automl-trials caption { caption-side: bottom; text-align: left; color: #666;
  padding: 3px 6px; }
.automl-trials th { cursor: pointer; text-align: left; background: #f3f3f3;
  position: sticky; top: 0; padding: 3px 6px; user-select: none; }
.automl-trials td { padding: 2px 6px; border-top: 1px solid #eee; white-space: nowrap; }
.automl-trials tr { cursor: pointer; }
.automl-trials tr.state-pruned td { color: #888; }
.automl-trials tr.state-fail td { color: #c33; }
.automl-trials tr.state-running td { color: #e67e00; }
.automl-trials tr.state-waiting td { color: #888; font-style: italic; }
.automl-trials tr.state-discarded td { color: #999; text-decoration: line-through; }
.automl-trials tr.state-discarded td:last-child { text-decoration: none; }
.automl-trials tr.selected td { background: #ffe3e3; }
"""


class TrialTableWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Rows of trials; ``sort_by``/``ascending`` re-sort them, ``selected`` is a trial number.

    Every row is sorted here, in Python, but only a window of ``limit`` of them is sent to the
    front end (the newest when sorted by number, else the first of the order, and the selected
    trial wherever it is), with ``total``, the count of them all: a study of 10,000 trials
    updates its table as fast as one of 100."""

    _esm = _ESM
    _css = _CSS
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    sort_by = traitlets.Unicode("number").tag(sync=True)
    ascending = traitlets.Bool(True).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)  # rows in all; more than len(rows): a window
    limit = traitlets.Int(LIMIT)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._raw: list[dict[str, Any]] = []
        self.observe(self._resort, names=["sort_by", "ascending", "limit"])
        self.observe(self._reselect, names=["selected"])

    def set_rows(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self._raw = rows
        with self.hold_sync():
            self.columns = columns
            self.total = len(rows)
            self.rows = self._sorted()

    def _resort(self, _change: Any = None) -> None:
        self.rows = self._sorted()

    def _reselect(self, change: Any) -> None:
        """A trial selected outside the window (a click on a chart) joins it."""
        if len(self._raw) > self.limit and all(r["number"] != change["new"] for r in self.rows):
            self._resort()

    def _sorted(self) -> list[dict[str, Any]]:
        key = self.sort_by if self.sort_by in self.columns else "number"
        if key == "number":  # the rows come by number: no key to compute for 10,000 rows
            ordered = sorted(self._raw, key=_number) if not _by_number(self._raw) \
                else list(self._raw)
            if not self.ascending:
                ordered.reverse()
        else:
            present = [r for r in self._raw if r.get(key) is not None]
            missing = [r for r in self._raw if r.get(key) is None]  # blanks last, either way
            present.sort(key=lambda r: _sort_key(r[key]), reverse=not self.ascending)
            ordered = present + missing
        return [{**r, "_text": {c: cell_text(c, r.get(c)) for c in self.columns}}
                for r in window(ordered, self.limit,
                                newest=key == "number" and self.ascending,
                                selected=self.selected)]


def window(ordered: list[dict[str, Any]], limit: int, newest: bool = False,
           selected: int | None = None) -> list[dict[str, Any]]:
    """At most ``limit`` of the ``ordered`` rows: the first, or the last if ``newest``; the row
    of trial ``selected`` is kept where it stands in the order, beyond the limit if need be."""
    if len(ordered) <= limit:
        return ordered
    start = len(ordered) - limit if newest else 0
    shown = range(start, start + limit)
    at = next((i for i, r in enumerate(ordered) if r["number"] == selected), None) \
        if selected is not None and selected >= 0 else None
    if at is None or at in shown:
        return ordered[shown.start:shown.stop]
    chosen = sorted([*shown, at])
    return [ordered[i] for i in chosen]


def _number(row: dict[str, Any]) -> int:
    return int(row["number"])


def _by_number(rows: list[dict[str, Any]]) -> bool:
    return all(a["number"] < b["number"] for a, b in zip(rows, rows[1:]))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def table_html(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The table as plain HTML, for readers without the widget extension."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr class='state-{html.escape(str(r['state']).lower())}'>"
        + "".join(f"<td>{html.escape(cell_text(c, r.get(c)))}</td>" for c in columns)
        + "</tr>" for r in rows)
    return (f"<style>{_CSS}</style><table class='automl-trials'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")
