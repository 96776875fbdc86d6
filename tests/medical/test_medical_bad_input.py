"""Bad input to the medical command line, from the issue's list (a class without training images, the method flags
that ``--method X --help`` promises)."""

import numpy as np
import pytest

from condensekit.core.cli import main
from tests.medical.test_medical_data import _write


def test_a_class_without_training_images_is_refused_before_condensing(tmp_path, capsys):
    # core gives a class without training images no budget, so a training split without class 0 was condensed,
    # silently, into a set of class-1 images only
    arrays = _write(tmp_path, "breastmnist", n=(16, 6, 6))
    keep = arrays["train_labels"][:, 0] == 1
    arrays["train_images"], arrays["train_labels"] = arrays["train_images"][keep], arrays["train_labels"][keep]
    np.savez(tmp_path / "medmnist" / "breastmnist.npz", **arrays)
    art = tmp_path / "art"
    argv = ["medical", "condense", "--flag", "breastmnist", "--root", str(tmp_path), "--method", "random", "--ipc",
            "1", "--profile", "cpu", "--out", str(art), "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2
    assert "training split of 'breastmnist' holds no image of class(es) [0] (of 2)" in capsys.readouterr().err
    assert not art.exists()


def test_method_help_lists_the_method_flags_the_description_promises(capsys):
    # "Method-specific flags (e.g. --syn-steps) appear with --method X --help": they did not; argparse printed the
    # verb's options only, so a method's flags were learnt from the error of a wrong one
    with pytest.raises(SystemExit) as done:
        main(["medical", "condense", "--method", "ptm", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "--flag FLAG" in out
    flags = out.split("flags of method 'ptm'")[1]
    assert "--syn-steps" in flags and "--overlap-every" in flags and "--lr-img" in flags
    with pytest.raises(SystemExit):
        main(["medical", "condense", "--method", "nosuch", "-h"])
    # the registry's names (robust's sre2l joins them once robust is imported)
    assert "unknown method 'nosuch'; valid methods are {dc, dm, mtt, ptm, random" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["medical", "condense", "--help"])
    assert "put --method X before --help" in capsys.readouterr().out


def test_a_mistyped_verb_option_lists_the_verbs_options_too(tmp_path, capsys):
    # `--ipcs 2` went to the method's flags, whose error listed only the method's ('--init' for random)
    _write(tmp_path, "breastmnist", n=(16, 6, 6))
    argv = ["medical", "condense", "--flag", "breastmnist", "--root", str(tmp_path), "--method", "random", "--ipc",
            "1", "--ipcs", "2", "--out", str(tmp_path / "art"), "--quiet"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Unknown option(s) ['--ipcs', '2'] for method 'random'. Valid options are ['--init']" in err
    assert "the options of `medical condense` itself are ['--batched', '--checkpoint'," in err and "'--ipc'," in err
    assert "'--help'" not in err and not (tmp_path / "art").exists()
