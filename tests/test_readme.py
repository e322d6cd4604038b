"""Every code block of README.md runs as written.

``python`` blocks are executed; ``sh`` blocks, which hold ``scratchrnn ...`` commands, run in bash
with ``scratchrnn`` meaning this checkout's ``python -m scratchrnn``. Each block runs on its own,
in a fresh namespace and a fresh temporary folder: a reader copies one block at a time, so a block
that leaned on the names or files of an earlier one would fail for them, and fails here. The
folder holds ``corpus.txt`` and ``held_out.txt``, the README's stand-ins for "your own text":
the first 200,000 characters of the shipped corpus, and the last 10,000 of those, which
``train`` holds out for validation (``--val-fraction`` 0.1) and never trains on.

An HTML comment on the line before a fence says how the block runs:
``<!-- readme-test: slow -->`` marks it slow (a real training run of more than a few seconds);
``<!-- readme-test: skip, REASON -->`` does not run it (``make test`` would run this suite again;
a run of minutes is tested elsewhere at smaller settings). The commands of every ``sh`` block,
run or not, must parse with the command line's own parser, so a renamed option fails here.
A fence without a language, or with one this file cannot run, fails the inventory test, so a
new block is run or skipped by decision, never by accident.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from cli_helpers import ENV, our_traceback
from scratchrnn.cli import build_parser
from scratchrnn.data import load_corpus
from scratchrnn.tasks import TASKS

README = Path(__file__).resolve().parents[1] / "README.md"
LANGUAGES = ("python", "sh")
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!-- readme-test: (slow|skip, (.+)) -->$")
CORPUS = 200_000  # characters of the shipped corpus in corpus.txt: a few seconds of training per run
HELD_OUT = 10_000  # its last characters, within the tenth that train holds out


class Block(NamedTuple):
    line: int  # of the opening fence, 1-based
    section: str  # the heading above it
    language: str
    code: str
    mark: str | None  # "slow", "skip" or None
    reason: str | None  # why a skipped block is not run


def read_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with the heading and the mark above each."""
    blocks, lines = [], text.splitlines()
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        match = FENCE.match(line)
        if not match:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"README.md:{i + 1}: a code block that is never closed"
        above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.match(above)
        kind = None if mark is None else mark[1].split(",")[0]
        blocks.append(Block(i + 1, section, match[1], "\n".join(lines[i + 1:end]) + "\n", kind,
                            None if mark is None else mark[2]))
        i = end + 1
    return blocks


BLOCKS = read_blocks(README.read_text(encoding="utf-8"))


def block_id(block: Block) -> str:
    return f"line{block.line}-{re.sub(r'[^A-Za-z0-9]+', '-', block.section).strip('-').lower()}"


def cases(language: str) -> list:
    """The blocks in ``language`` as test cases, marked as the README says."""
    out = []
    for block in BLOCKS:
        if block.language != language:
            continue
        if block.mark == "skip":
            marks = [pytest.mark.skip(reason=f"README.md:{block.line}: {block.reason}")]
        else:
            marks = [pytest.mark.slow] if block.mark == "slow" else []
        out.append(pytest.param(block, marks=marks, id=block_id(block)))
    return out


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A fresh working folder with the README's input files."""
    text = load_corpus()[:CORPUS]
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    (tmp_path / "held_out.txt").write_text(text[-HELD_OUT:], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def shell_commands(code: str) -> list[list[str]]:
    """The commands of an ``sh`` block, each split as the shell would (comments dropped)."""
    commands = (shlex.split(line, comments=True) for line in code.splitlines())
    return [words for words in commands if words]


# ------------------------------------------------------------------------------------------------
# the inventory: what the README holds and how each block is run
# ------------------------------------------------------------------------------------------------
def test_the_readme_has_the_blocks_this_test_expects():
    python = [b for b in BLOCKS if b.language == "python"]
    sh = [b for b in BLOCKS if b.language == "sh"]
    assert len(python) >= 3 and len(sh) >= 4, BLOCKS
    assert any("CharLM" in b.code for b in python) and any("scratchrnn train " in b.code for b in sh)


@pytest.mark.parametrize("block", BLOCKS, ids=block_id)
def test_every_block_has_a_language_this_test_runs(block):
    assert block.language in LANGUAGES, (f"README.md:{block.line}: tag the block ```python or ```sh "
                                         f"(got {block.language!r}) so this test runs it")


def command_problems(words: list[str]) -> list[str]:
    """What is wrong with one ``scratchrnn`` command of the README (empty when nothing)."""
    # a glob like runs/train-char-*/model.npz names one file only while a single run exists
    problems = [f"{w}: a glob (name the file: --out FOLDER)" for w in words if any(c in w for c in "*?[")]
    try:
        args = build_parser().parse_args(words[1:])
    except (SystemExit, Exception) as exc:  # the parser's complaint, whatever form it takes
        return [*problems, f"the parser refuses it: {exc}"]
    if args.command == "task" and args.name not in TASKS:
        problems.append(f"no task {args.name!r}")
    return problems


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == "sh"], ids=block_id)
def test_shell_commands_parse_and_name_their_files(block):
    commands = shell_commands(block.code)
    assert commands, f"README.md:{block.line}: an empty block"
    for words in commands:
        if words[0] != "scratchrnn":
            # only a block that is not run may hold other commands (make)
            assert block.mark == "skip", f"README.md:{block.line}: {shlex.join(words)} is not scratchrnn"
            continue
        assert command_problems(words) == [], f"README.md:{block.line}: {shlex.join(words)}"


def test_the_command_check_can_fail():
    assert command_problems(["scratchrnn", "sample", "runs/train-char-*/model.npz"]) == [
        "runs/train-char-*/model.npz: a glob (name the file: --out FOLDER)"]
    assert command_problems(["scratchrnn", "task", "bogus"]) == ["no task 'bogus'"]
    [problem] = command_problems(["scratchrnn", "train", "corpus.txt", "--no-such-option"])
    assert problem.startswith("the parser refuses it: ") and "--no-such-option" in problem


def test_the_block_reader_sees_marks_sections_and_languages():
    text = ("# Title\n\n## Part one\n\n<!-- readme-test: slow -->\n\n```python\nx = 1\n```\n\n"
            "### Part two\n<!-- readme-test: skip, it needs a GPU -->\n```sh\nscratchrnn demo  # all\n```\n"
            "```\nplain\n```\n")
    blocks = read_blocks(text)
    assert [(b.line, b.section, b.language, b.code, b.mark, b.reason) for b in blocks] == [
        (7, "Part one", "python", "x = 1\n", "slow", None),
        (13, "Part two", "sh", "scratchrnn demo  # all\n", "skip", "it needs a GPU"),
        (16, "Part two", "", "plain\n", None, None),
    ]
    assert shell_commands(blocks[1].code) == [["scratchrnn", "demo"]]
    with pytest.raises(AssertionError, match="never closed"):
        read_blocks("```python\nx = 1\n")


# ------------------------------------------------------------------------------------------------
# running them
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", cases("python"))
def test_python_block_runs(block, folder):
    code = compile(block.code, f"README.md:{block.line}", "exec")  # tracebacks point at the README
    exec(code, {"__name__": "__readme__"})


@pytest.mark.parametrize("block", cases("sh"))
def test_shell_block_runs(block, folder):
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "scratchrnn"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m scratchrnn "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}"}
    res = subprocess.run(["bash", "-e", "-u", "-o", "pipefail", "-c", block.code], cwd=folder, env=env,
                         capture_output=True, text=True, check=False, timeout=1800)
    assert res.returncode == 0, f"README.md:{block.line}: exit status {res.returncode}\n{res.stderr}"
    assert not our_traceback(res.stderr), res.stderr
