"""The pieces of the command line's parser: its help, its checked option types, and flag names in
the library's messages.

``CommandParser`` is argparse's parser with three changes: a complaint is raised as a one-line
:class:`~scratchrnn.cli_io.CommandLineError` naming the command it concerns (``cli.main`` prints
it with a pointer to that command's ``--help``), the options and commands it was given are listed
(``arguments``, ``commands``), and its help comes from :class:`HelpFormatter`.

``HelpFormatter`` adds ``(default: X)`` to an option's help line when the option has a default
(not for None, a flag's False, or a help text that already speaks of its default), and fills the
paragraphs of a description or an epilog while keeping indented lines (examples) as written.

The option types (``type=positive_int`` and so on) check a value with ``scratchrnn.checks``, so
argparse names the flag in the error: ``argument --dropout: must be a probability in [0, 1), got
1.0``. What only the library can find (a held-out part too small for the text it is cut from)
comes back from it as a ValueError naming its parameter; :func:`name_flags` rewrites those names
as the command's flags, from one table: each option's ``dest`` is the parameter it sets, or
another name is recorded with :meth:`CommandParser.also_named`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
from collections.abc import Callable, Mapping

from .checks import MAX_LAYERS, check_int, check_probability, check_real, check_size
from .cli_io import CommandLineError

__all__ = [
    "CommandParser",
    "HelpFormatter",
    "folded_name",
    "fraction",
    "layer_count",
    "mentions_flag",
    "minutes",
    "name_flags",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "probability",
    "probability_mass",
    "size",
    "token_text",
]


class HelpFormatter(argparse.HelpFormatter):
    """Help with each option's default, and descriptions whose examples keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if _has_default(action) and "default" not in text.lower():
            text += " (default: %(default)s)"
        return text

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)  # a flag stays whole

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines, paragraph = [], []

        def fill() -> None:
            if paragraph:
                lines.append(textwrap.fill(" ".join(" ".join(paragraph).split()), width,
                                           initial_indent=indent, subsequent_indent=indent,
                                           break_on_hyphens=False))  # a flag stays whole
                paragraph.clear()

        for line in text.strip("\n").splitlines():
            if not line.strip():  # a paragraph ends
                fill()
                lines.append("")
            elif line[:1].isspace():  # an example: as written
                fill()
                lines.append(indent + line.rstrip())
            else:
                paragraph.append(line)
        fill()
        return "\n".join(lines)


def _has_default(action: argparse.Action) -> bool:
    """Whether the option has a default worth showing: not None, not a flag, not hidden."""
    if action.default is None or action.default is argparse.SUPPRESS:
        return False
    if action.nargs == 0:  # a flag (--no-progress): on or off, nothing to show
        return False
    return bool(action.option_strings) or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


class CommandParser(argparse.ArgumentParser):
    """argparse's parser with one-line complaints, its options and commands listed, and
    :class:`HelpFormatter` help (the module docstring); subcommands are made of the same class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        self.arguments: list[argparse.Action] = []  # every add_argument, in order (-h included)
        self.commands: dict[str, CommandParser] = {}  # name -> parser of each subcommand
        self.aliases: dict[str, str] = {}  # the library's name of a parameter -> the dest that sets it
        super().__init__(*args, **kwargs)  # which adds -h already

    def _add_action(self, action: argparse.Action) -> argparse.Action:
        self.arguments.append(action)  # argument groups add theirs through this too
        return super()._add_action(action)

    def add_subparsers(self, **kwargs):
        action = super().add_subparsers(**kwargs)
        self.commands = action.choices  # filled in as add_parser is called
        return action

    def error(self, message: str):
        raise CommandLineError(message, self.prog)

    def error_in(self, command: str | None, message: str):
        """Raise ``message`` as a complaint about ``command`` (None: the program itself)."""
        raise CommandLineError(message, f"{self.prog} {command}" if command else self.prog)

    def also_named(self, **aliases: str) -> None:
        """Record that the library calls an option's parameter by another name than its dest:
        ``also_named(report_every="log_every")`` (the option ``--log-every`` sets ``report_every``)."""
        self.aliases.update(aliases)

    def flags(self) -> dict[str, str]:
        """Parameter name -> flag for each option: ``{"val_fraction": "--val-fraction", ...}``, and
        for each name of :meth:`also_named`, the flag of the option it stands for."""
        table = {}
        for action in self.arguments:
            longs = [s for s in action.option_strings if s.startswith("--")]
            if longs and action.dest is not argparse.SUPPRESS and action.dest not in ("help", "version"):
                table.setdefault(action.dest, longs[0])
        table.update({name: table[dest] for name, dest in self.aliases.items() if dest in table})
        return table


# -- option types ----------------------------------------------------------------------------------
_NAME = "value"  # the name the checks are given; the flag argparse puts in front replaces it


def _checked(text: str, parse: Callable, what: str, check: Callable, interval: str | None = None, **bounds):
    """``check(_NAME, parse(text), **bounds)`` with its complaint as argparse's, without the name
    (or saying that the value must lie in ``interval``)."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    try:
        return check(_NAME, value, **bounds)
    except ValueError as exc:
        if interval is not None:
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}") from None
        raise argparse.ArgumentTypeError(str(exc).removeprefix(_NAME + " ")) from None


def folded_name(text: str) -> str:
    """A name as the library reads it (an optimizer's): stripped, lower case, ``_`` as ``-``;
    given with ``choices``, argparse checks the folded name."""
    return text.strip().lower().replace("_", "-")


def positive_int(text: str) -> int:
    """An integer >= 1 (a count of steps, tokens, epochs)."""
    return _checked(text, int, "an integer", check_int, low=1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed; an interval where 0 means never)."""
    return _checked(text, int, "an integer", check_int, low=0)


def size(text: str) -> int:
    """A size of a model, a batch or a window: an integer in [1, scratchrnn.checks.MAX_SIZE]."""
    return _checked(text, int, "an integer", check_size)


def embedding_size(text: str) -> int:
    """An embedding size: a size, or 0 for one-hot input (no embedding)."""
    return non_negative_int(text) and size(text)


def layer_count(text: str) -> int:
    """A number of recurrent layers: an integer in [1, scratchrnn.checks.MAX_LAYERS]."""
    return _checked(text, int, "an integer", check_size, limit=MAX_LAYERS)


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    return _checked(text, float, "a number", check_real, low=0.0, low_open=True)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (a temperature, a clipping threshold where 0 means none)."""
    return _checked(text, float, "a number", check_real, low=0.0)


def minutes(text: str) -> float:
    """A finite number of minutes > 0 (a time limit), whose seconds are finite too."""
    value = positive_float(text)
    if not math.isfinite(value * 60.0):
        most = sys.float_info.max / 60.0
        raise argparse.ArgumentTypeError(f"must be at most {most:.4g} minutes, got {text}")
    return value


def token_count(text: str) -> int:
    """0 (meaning all) or an integer >= 2 (a token and the next: a slice of text to score)."""
    value = non_negative_int(text)
    if value == 1:
        raise argparse.ArgumentTypeError("must be at least 2 (a token and the next), or 0 for all, got 1")
    return value


def factor(text: str) -> float:
    """A factor in (0, 1) that shrinks (a learning-rate reduction)."""
    return _checked(text, float, "a number", check_real, "(0, 1)", low=0.0, low_open=True, high=1.0,
                    high_open=True)


def fraction(text: str) -> float:
    """A share in [0, 1) (of a text held out)."""
    return _checked(text, float, "a number", check_real, "[0, 1)", low=0.0, high=1.0, high_open=True)


def probability(text: str) -> float:
    """A probability in [0, 1) (a dropout rate: 1 would drop everything)."""
    return _checked(text, float, "a number", check_probability)


def probability_mass(text: str) -> float:
    """A share of probability in (0, 1] (top-p sampling: 1 keeps every token)."""
    return _checked(text, float, "a number", check_real, "(0, 1]", low=0.0, low_open=True, high=1.0)


TOKEN_ESCAPES = {"\\n": "\n", "\\t": "\t"}  # what a shell cannot easily pass as itself


def token_text(text: str) -> str:
    """A token as typed (``--eos``): ``\\n`` and ``\\t`` read as a line break and a tab."""
    if not text:
        raise argparse.ArgumentTypeError("expected a token, got an empty string")
    return TOKEN_ESCAPES.get(text, text)


# -- flag names in the library's messages ----------------------------------------------------------
_QUOTED_VALUE = r"'([^']*)'|\"([^\"]*)\"|([^\s,;)']+)"
_COMPARISON = r"(?= (?:must|needs)\b| (?:<=|>=|<|>) )"


def name_flags(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with the library's parameter names as the command line's flags.

    ``flags`` maps names to flags (:meth:`CommandParser.flags`). ``name=value`` becomes ``--flag
    value`` (quotes dropped); a name followed by ``must``, ``needs`` or a comparison becomes the
    flag; a name with an underscore (never an English word) becomes the flag wherever it stands
    alone. Other words stay as they are: "a shorter window" is not about ``--window``.
    """
    for name, flag in sorted(flags.items(), key=lambda item: -len(item[0])):  # longest first
        alone = rf"(?<![\w./-]){re.escape(name)}"
        message = re.sub(alone + rf"=(?:{_QUOTED_VALUE})",
                         lambda m, flag=flag: f"{flag} {next(g for g in m.groups() if g is not None)}",
                         message)
        message = re.sub(alone + _COMPARISON, flag, message)
        if "_" in name:
            message = re.sub(alone + r"(?![\w/.-])", flag, message)  # not in a file's name
    return message


def mentions_flag(message: str, flags: Mapping[str, str]) -> bool:
    """Whether ``message`` names one of the flags (so it is about the options, not a file)."""
    return any(re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", message) for flag in flags.values())
