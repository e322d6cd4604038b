"""scratchrnn.cli_args: every option of every command has help and shows its default, every command
a description; the checked option types name the flag; the library's parameter names become the
command's flags."""

from __future__ import annotations

import argparse

import pytest

from scratchrnn import cli_args
from scratchrnn.cli import build_parser, main
from scratchrnn.cli_args import CommandParser, HelpFormatter, mentions_flag, name_flags
from scratchrnn.cli_io import CommandLineError


def _commands() -> dict[str, CommandParser]:
    return build_parser().commands


def _shown_default(action: argparse.Action) -> bool:
    return (action.default not in (None, argparse.SUPPRESS) and action.nargs != 0
            and bool(action.option_strings))


def _flat(text: str) -> str:
    return " ".join(text.split())


# -- the parser as a whole ---------------------------------------------------------------------------
def test_every_argument_of_the_program_and_of_every_command_has_help():
    parser = build_parser()
    walked = 0
    for name, p in {"scratchrnn": parser, **parser.commands}.items():
        for action in p.arguments:
            walked += 1
            assert action.help and action.help.strip(), (name, action.option_strings or action.dest)
    assert walked > 60  # the walk saw the options (it would pass vacuously on an empty list)


def test_the_program_and_every_command_describe_themselves():
    parser = build_parser()
    assert "only module that prints" not in parser.description
    assert "language model" in parser.description and "scratchrnn COMMAND --help" in _flat(parser.epilog)
    assert set(parser.commands) >= {"gradcheck", "task", "demo", "trace", "train", "sample", "eval", "export"}
    for name, p in parser.commands.items():
        assert p.description and len(p.description.split()) >= 8, name  # a sentence, not a label


@pytest.mark.parametrize("command", sorted(_commands()))
def test_help_of_every_command_shows_the_defaults(capsys, command):
    assert main([command, "--help"]) == 0
    out = _flat(capsys.readouterr().out)
    options = [a for a in _commands()[command].arguments if _shown_default(a)]
    for action in options:
        if "default" in action.help.lower():  # a help line that states its default itself
            assert str(action.default) in action.help, (command, action.option_strings)
        else:
            assert f"(default: {action.default})" in out, (command, action.option_strings)
    assert "(default: None)" not in out and "(default: False)" not in out


@pytest.mark.parametrize("command", [None, *sorted(_commands())])
def test_help_never_breaks_a_flag_or_a_word_at_its_hyphen(capsys, command):
    assert main(["--help"] if command is None else [command, "--help"]) == 0
    broken = [line for line in capsys.readouterr().out.splitlines() if line.rstrip()[-2:-1].isalpha()
              and line.rstrip().endswith("-")]
    assert broken == [], command


def test_train_help_shows_its_defaults_and_lists_every_optimizer(capsys):
    from scratchrnn.optim import OPTIMIZERS

    assert main(["train", "--help"]) == 0
    out = _flat(capsys.readouterr().out)
    for shown in ("--hidden-size N hidden units per layer (default: 384)", "(default: adam)",
                  "(default: 0.002)", "(default: 0.1)", "(default: gru)", "(default: 64)",
                  "examples: scratchrnn train"):
        assert shown in out, shown
    assert "{" + ",".join(OPTIMIZERS) + "}" in out and "plain-rprop" in OPTIMIZERS


def test_choices_follow_the_library():
    from scratchrnn.io import EXPORT_FORMATS
    from scratchrnn.nn.model import CELLS
    from scratchrnn.optim import OPTIMIZERS
    from scratchrnn.seq2seq.attention import ATTENTION_KINDS
    from scratchrnn.unknown import UNKNOWN

    commands = _commands()
    choices = {(name, a.dest): tuple(a.choices) for name, p in commands.items() for a in p.arguments
               if a.choices and a.option_strings}
    assert choices["train", "optimizer"] == OPTIMIZERS
    assert set(choices["train", "cell"]) == set(choices["task", "cell"]) == set(CELLS)
    assert choices["eval", "unknown"] == UNKNOWN
    assert choices["task", "attention"] == ATTENTION_KINDS
    assert choices["export", "format"] == (*EXPORT_FORMATS, "onnx")
    assert build_parser().parse_args(["train", "--optimizer", "Plain_Rprop"]).optimizer == "plain-rprop"


def test_flags_table_maps_each_option_to_its_long_flag():
    flags = _commands()["train"].flags()
    assert flags["val_fraction"] == "--val-fraction" and flags["batch_size"] == "--batch-size"
    assert "help" not in flags and "text" not in flags  # -h, and a positional: no flag to name
    assert _commands()["export"].flags()["output"] == "--output"  # the long one of -o/--output


def test_flags_table_covers_the_run_options_and_the_names_the_library_gives_them():
    flags = _commands()["train"].flags()
    for dest in ("log_every", "time_limit", "more_steps", "init_from", "extend_vocab"):
        assert flags[dest] == "--" + dest.replace("_", "-"), dest
    assert flags["report_every"] == "--log-every"  # lm.fit's name of it
    assert name_flags("report_every must be an integer >= 1, got 0", flags) == (
        "--log-every must be an integer >= 1, got 0")
    assert name_flags("extend_vocab cannot be used with resume: a run keeps its vocabulary", flags) == (
        "--extend-vocab cannot be used with resume: a run keeps its vocabulary")  # an English word stays


# -- the formatter -----------------------------------------------------------------------------------
def _toy_help(**kwargs) -> str:
    p = CommandParser(prog="toy", **kwargs)
    p.add_argument("--rate", type=float, default=0.5, help="a rate")
    p.add_argument("--size", type=int, default=4, help="a size (default 4, as written)")
    p.add_argument("--name", help="a name (default: none)")
    p.add_argument("--bare", help="nothing said")
    p.add_argument("--on", action="store_true", help="a flag")
    p.add_argument("--pct", default=10, help="at %(default)s percent")
    return p.format_help()


def test_the_formatter_adds_real_defaults_once_and_nothing_else():
    text = _toy_help()
    assert "a rate (default: 0.5)" in text
    assert "a size (default 4, as written)" in text and "(default: 4)" not in text  # not doubled
    assert text.count("default") == 3  # rate's, and the ones size and name wrote themselves
    assert "nothing said\n" in text and "a flag\n" in text and "at 10 percent\n" in text


def test_the_formatter_fills_paragraphs_and_keeps_examples_as_written():
    text = _toy_help(description="one two three " * 30 + "\n\nsecond paragraph",
                     epilog="examples:\n  toy --rate 0.1      a slow one\n  toy --on")
    body = text.split("options:")[0]
    assert max(map(len, body.splitlines())) <= 80 and "\n\nsecond paragraph" in body
    assert "examples:\n  toy --rate 0.1      a slow one\n  toy --on" in text
    assert isinstance(CommandParser(prog="x").formatter_class(prog="x"), HelpFormatter)


def test_complaints_are_raised_naming_the_command():
    parser = build_parser()
    with pytest.raises(CommandLineError) as info:
        parser.parse_args(["sample", "--length", "0", "m.npz"])
    assert info.value.prog == "scratchrnn sample"
    assert str(info.value) == "argument --length: must be a positive integer, got 0"
    with pytest.raises(CommandLineError) as info:
        parser.error_in(None, "bad")
    assert info.value.prog == "scratchrnn"


# -- option types ------------------------------------------------------------------------------------
TYPES = [  # (type, accepted text -> value, refused text -> message)
    (cli_args.positive_int, {"3": 3, "10000000000": 10**10}, {"0": "must be a positive integer, got 0",
                                                             "1.5": "expected an integer, got '1.5'"}),
    (cli_args.non_negative_int, {"0": 0, "7": 7}, {"-1": "must be an integer >= 0, got -1",
                                                   "x": "expected an integer, got 'x'"}),
    (cli_args.size, {"1": 1, "1048576": 2**20}, {"1048577": "must be at most 1,048,576",
                                                 "0": "must be a positive integer, got 0"}),
    (cli_args.layer_count, {"2": 2, "1024": 1024}, {"1025": "must be at most 1,024"}),
    (cli_args.positive_float, {"2e-3": 2e-3}, {"0": "must be > 0.0, got 0.0", "nan": "must be finite",
                                               "inf": "must be finite", "": "expected a number, got ''"}),
    (cli_args.non_negative_float, {"0": 0.0, "1.5": 1.5}, {"-0.1": "must be >= 0.0, got -0.1"}),
    (cli_args.minutes, {"0.5": 0.5, "2e306": 2e306},
     {"0": "must be > 0.0, got 0.0", "1e307": "must be at most 2.996e+306 minutes, got 1e307"}),
    (cli_args.fraction, {"0": 0.0, "0.25": 0.25}, {"1": "must be in [0, 1), got 1",
                                                   "-0.5": "must be in [0, 1), got -0.5"}),
    (cli_args.probability, {"0": 0.0, "0.5": 0.5}, {"1": "must be a probability in [0, 1), got 1.0"}),
    (cli_args.embedding_size, {"0": 0, "64": 64}, {"-1": "must be an integer >= 0, got -1",
                                                "1048577": "must be at most 1,048,576"}),
    (cli_args.token_count, {"0": 0, "2": 2}, {"1": "must be at least 2 (a token and the next), or 0 for all",
                                              "-3": "must be an integer >= 0, got -3"}),
    (cli_args.factor, {"0.5": 0.5}, {"0": "must be in (0, 1), got 0", "1": "must be in (0, 1), got 1"}),
    (cli_args.probability_mass, {"1": 1.0, "0.9": 0.9}, {"0": "must be in (0, 1], got 0",
                                                         "1.5": "must be in (0, 1], got 1.5"}),
    (cli_args.token_text, {"\\n": "\n", "\\t": "\t", "SENTENCE_END": "SENTENCE_END", "\\": "\\", "e": "e"},
     {"": "expected a token, got an empty string"}),
]


@pytest.mark.parametrize("kind, good, bad", TYPES, ids=[t[0].__name__ for t in TYPES])
def test_option_types_accept_their_values_and_word_the_others(kind, good, bad):
    for text, value in good.items():
        got = kind(text)
        assert got == value and type(got) is type(value), text
    for text, message in bad.items():
        with pytest.raises(argparse.ArgumentTypeError) as info:
            kind(text)
        assert str(info.value).startswith(message), (text, str(info.value))
        assert "value" not in str(info.value)  # the checks' placeholder name never shows


def test_argparse_names_the_flag_in_front_of_the_types_complaint(capsys):
    assert main(["train", "--dropout", "1"]) == 2
    err = capsys.readouterr().err
    assert err == ("scratchrnn: error: argument --dropout: must be a probability in [0, 1), got 1.0 "
                   "(see 'scratchrnn train --help')\n")


# -- the library's names as flags ----------------------------------------------------------------------
FLAGS = {"val_fraction": "--val-fraction", "batch_size": "--batch-size", "window": "--window",
         "hidden_size": "--hidden-size", "unknown": "--unknown", "lr": "--lr", "steps": "--steps"}
NAMED = [  # library message -> the message on the command line
    ("val_fraction=0.0001 holds out 0 of the text's 57 characters; use more text or val_fraction=0",
     "--val-fraction 0.0001 holds out 0 of the text's 57 characters; use more text or --val-fraction 0"),
    ("batch_size=32 with window=100 needs 3232; use batch_size <= 3, a shorter window or more text",
     "--batch-size 32 with --window 100 needs 3232; use --batch-size <= 3, a shorter window or more text"),
    ("a model with vocab_size 76 and hidden_size 1,000,000 needs about 48 TB",
     "a model with vocab_size 76 and --hidden-size 1,000,000 needs about 48 TB"),
    ("the text has 1 character(s) outside it: 'é'; unknown='skip' scores the text without them",
     "the text has 1 character(s) outside it: 'é'; --unknown skip scores the text without them"),
    ("lr must be >= 0, got -1.0", "--lr must be >= 0, got -1.0"),
    ("window must be a positive integer, got 0", "--window must be a positive integer, got 0"),
    ('unknown="skip" here', "--unknown skip here"),
]


@pytest.mark.parametrize("library, command_line", NAMED)
def test_library_names_become_flags(library, command_line):
    assert name_flags(library, FLAGS) == command_line
    assert mentions_flag(command_line, FLAGS) and not mentions_flag(library, {"x": "--x"})


@pytest.mark.parametrize("text", [
    "the text is shorter than one window: 20 characters for training",  # the word, not the option
    "use a shorter window or more text",
    "cannot read runs/batch_size/window=3/x.txt",  # paths keep their names
    "batch_size.npz is not a checkpoint",
    "--val-fraction 0.5 is already a flag",
    "the steps of the run",
    "my_val_fraction_2 and val_fractions",
])
def test_words_that_are_not_parameter_names_stay(text):
    assert name_flags(text, FLAGS) == text


def test_every_flag_the_table_holds_can_be_named():
    flags = _commands()["train"].flags()
    for name, flag in flags.items():
        assert name_flags(f"{name}=3 is wrong", flags) == f"{flag} 3 is wrong", name
        assert name_flags(f"{name} must be positive", flags) == f"{flag} must be positive", name
