"""The README's Python examples, run verbatim, print what their comments say.

Every fenced ``python`` block of README.md is executed as it stands (in
``tests/references/``, where the files they read are). Each line that prints and carries a
comment with numbers, e.g. ``print(result.summary())  # rate ratio 0.885 (0.839 to 0.933)``,
must have printed a line whose numbers, rounded to the comment's decimals, include the
comment's numbers in order. Other commented lines are checked for what they claim: a
"tidy table" has the columns the comment lists; a figure is a matplotlib figure.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:e-?\d+)?")


def python_blocks(markdown: str) -> list[str]:
    """The fenced ``python`` code blocks of a markdown text, as written."""
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def _decimals(token: str) -> int:
    return len(token.split(".")[1]) if "." in token else 0


def _numbers(text: str) -> list[str]:
    return [t for t in NUMBER.findall(text) if t.strip("-,.")]


def printed_line_matching(claim: str, output: str) -> str | None:
    """The first output line whose numbers, rounded to the claim's decimals, contain the
    claim's numbers in order (None if there is none)."""
    wanted = _numbers(claim)
    for line in output.splitlines():
        got = [float(t.replace(",", "")) for t in _numbers(line)]
        i = 0
        for value in got:
            if i < len(wanted) and round(value, _decimals(wanted[i])) == float(
                    wanted[i].replace(",", "")):
                i += 1
        if wanted and i == len(wanted):
            return line
    return None


def _comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("  #")
    return code.strip(), comment.strip()


BLOCKS = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_python_examples():
    assert BLOCKS, "README.md has no ```python block"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_readme_example_prints_what_its_comments_say(block, monkeypatch):
    import matplotlib.figure
    import pandas as pd

    monkeypatch.chdir(ROOT / "tests" / "references")
    namespace: dict = {}
    checked = 0
    lines = block.splitlines()
    # run the block verbatim, statement by statement at the top level, so each commented
    # line's output or value can be checked
    statements, current = [], []
    for line in lines:
        if current and line and not line[0].isspace() and not line.startswith((")", "}", "]")):
            statements.append(current)
            current = []
        current.append(line)
    statements.append(current)
    for stmt in statements:
        source = "\n".join(stmt)
        out = io.StringIO()
        last_code, comment = _comment(stmt[-1])
        is_expression = len(stmt) == 1 and not re.match(r"^\w[\w.]*\s*=[^=]|^(import|from) ", last_code)
        with contextlib.redirect_stdout(out):
            if is_expression and last_code:
                value = eval(compile(last_code, "README.md", "eval"), namespace)
            else:
                exec(compile(source, "README.md", "exec"), namespace)
                value = None
        if not comment or len(stmt) > 1:
            continue
        if last_code.startswith("print(") and _numbers(comment):
            assert printed_line_matching(comment, out.getvalue()) is not None, (
                f"README line {last_code!r} promises {comment!r}; it printed:\n{out.getvalue()}")
            checked += 1
        elif "table" in comment and isinstance(value, pd.DataFrame):
            listed = [c.strip() for c in comment.split(":", 1)[1].split(",")]
            assert set(listed) <= set(value.columns), (comment, list(value.columns))
            checked += 1
        elif "observed, fitted and counterfactual" in comment:
            assert isinstance(value, matplotlib.figure.Figure)
            checked += 1
        elif is_expression:  # a claim about an output this test cannot check: say so
            pytest.fail(f"README line {last_code!r}: no check for its comment {comment!r}")
    assert checked >= 1


def test_claim_matching_rounds_to_the_comment_digits():
    out = "   level_change_rr      Smoking ban     0.8851     0.8383     0.9344 3.642e-05"
    assert printed_line_matching("rate ratio 0.885 (0.838 to 0.934)", out) is not None
    assert printed_line_matching("rate ratio 0.885 (0.839 to 0.933), as published", out) is None
