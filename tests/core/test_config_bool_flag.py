"""A bool dataclass field's flag alone means true (`--allow-large-delta` needed `--allow-large-delta true`)."""

import argparse
from dataclasses import dataclass

import pytest

from condensekit.core.config import add_dataclass_args, dataclass_from_args


@dataclass
class Cfg:
    on: bool = False
    off: bool = True
    k: int = 1


def _parse(argv: list[str]) -> Cfg:
    p = argparse.ArgumentParser()
    add_dataclass_args(p, Cfg)
    p.add_argument("path", nargs="?")
    return dataclass_from_args(Cfg, p.parse_args(argv))


def test_a_bool_flag_alone_is_true_and_takes_a_value_too():
    assert _parse(["--on"]).on is True
    assert _parse(["--on", "--k", "2"]) == Cfg(on=True, k=2)
    assert _parse(["--off", "false"]).off is False and _parse(["--off", "0"]).off is False
    assert _parse(["--on", "yes"]).on is True
    assert _parse([]) == Cfg()


def test_a_bool_flag_with_a_word_that_is_no_boolean_is_refused():
    with pytest.raises(SystemExit):
        _parse(["--on", "maybe"])
