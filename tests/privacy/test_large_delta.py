"""δ ≥ 1/n is refused (an (ε, δ) guarantee that allows publishing a record in the clear), in the API and on the
command line, unless the user opts in with ``allow_large_delta``: then the release warns once and its card says so.
It used to warn only, and twice per DP-MERF release (once in the release, once in the accountant)."""

from __future__ import annotations

import warnings

import pytest

from condensekit.core.artifact import load_artifact
from condensekit.core.cli import main
from condensekit.core.vision.datasets import IMAGE_DATASETS
from condensekit.privacy import condense_private
from condensekit.privacy.accounting import GaussianRelease, account, check_delta
from condensekit.privacy.dp_merf import DPMERFCondensedConfig
from condensekit.privacy.psg import PSGConfig

# the toy data (tests/privacy/conftest.py) has n = 60 training images: 1/n = 0.0167
N = 60
LARGE = 0.05
TINY_MERF = dict(epsilon=5.0, n_features=50, bandwidth=2.0, ipc=1, steps=1)
TINY_PSG = dict(ipc=1, outer_loop=1, inner_loop=0, batch_loop=1, batch_real=6, model="lr", steps=1)


def _large_delta_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "1/n" in str(w.message)]


def test_check_delta_refuses_delta_at_or_above_one_over_n_naming_it():
    for delta in (1.0 / N, LARGE):
        with pytest.raises(ValueError) as err:
            check_delta(delta, N)
        msg = str(err.value)
        assert f"Invalid value {delta!r} for argument delta" in msg
        assert "1/n = 0.0167 for n=60 records" in msg and "allow_large_delta=True" in msg
        assert "(command line: --allow-large-delta)" in msg
    assert check_delta(0.9 / N, N) == 0.9 / N  # just below the bound
    assert check_delta(1e-5, 60_000) == 1e-5  # MNIST's setting
    assert check_delta(LARGE) == LARGE  # without n there is no bound to check
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the opt-in is silent here: account() warns, once
        assert check_delta(LARGE, N, allow_large_delta=True) == LARGE


def test_account_refuses_then_with_the_opt_in_warns_once_and_records_it():
    rel = [GaussianRelease(sigma=5.0)]
    kw = dict(mechanism="m", neighbouring="replace-one", sensitivity="s", n=N)
    with pytest.raises(ValueError, match="argument delta"):
        account(rel, LARGE, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warn call shows, whatever the registry holds
        report = account(rel, LARGE, allow_large_delta=True, **kw)
    assert len(_large_delta_warnings(caught)) == 1
    card = report.to_card()
    assert card["allow_large_delta"] is True and card["records"] == N and card["one_over_n"] == pytest.approx(1 / N)
    ok = account(rel, 1e-3, allow_large_delta=True, **kw).to_card()  # the opt-in given, δ below 1/n: nothing to say
    assert "allow_large_delta" not in ok


def test_dp_merf_refuses_before_the_engine_and_the_opt_in_warns_once(images):
    with pytest.raises(ValueError, match=r"argument delta: it is >= 1/n"):
        condense_private(images, "dp-merf-condensed", config=DPMERFCondensedConfig(delta=LARGE, **TINY_MERF),
                         device="cpu")  # fmt: skip
    cfg = DPMERFCondensedConfig(delta=LARGE, allow_large_delta=True, **TINY_MERF)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ci = condense_private(images, "dp-merf-condensed", config=cfg, device="cpu")
    assert len(_large_delta_warnings(caught)) == 1  # the release and the accountant warned once each
    assert ci.card["config"]["allow_large_delta"] is True
    assert ci.card["privacy"]["allow_large_delta"] is True and ci.card["privacy"]["delta"] == LARGE


def test_psg_refuses_and_the_opt_in_is_recorded(images):
    with pytest.raises(ValueError, match=r"argument delta: it is >= 1/n"):
        condense_private(images, "psg", config=PSGConfig(delta=LARGE, **TINY_PSG), device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ci = condense_private(images, "psg", config=PSGConfig(delta=LARGE, allow_large_delta=True, **TINY_PSG),
                              device="cpu")  # fmt: skip
    assert len(_large_delta_warnings(caught)) == 1
    assert ci.card["config"]["allow_large_delta"] is True and ci.card["privacy"]["records"] == N


@pytest.fixture
def toy(images):
    IMAGE_DATASETS.register("toy", lambda root=None, **_: images)
    yield images
    IMAGE_DATASETS._items.pop("toy")


@pytest.mark.parametrize("verb", ["dp-merf", "psg"])
def test_cli_refuses_with_status_2_and_takes_the_opt_in(tmp_path, capsys, toy, verb):
    out = tmp_path / "set"
    argv = ["privacy", verb, "--dataset", "toy", "--epsilon", "5", "--delta", str(LARGE), "--ipc", "1", "--steps", "1",
            "--out", str(out), "--quiet", "--device", "cpu"]  # fmt: skip
    argv += ["--n-features", "50", "--bandwidth", "2"] if verb == "dp-merf" else ["--model", "lr", "--outer-loop", "1",
                                                                                   "--batch-loop", "1",
                                                                                   "--batch-real", "6"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("condensekit: error: Invalid value 0.05 for argument delta") and "Traceback" not in err
    assert "(command line: --allow-large-delta)" in err and not out.exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*argv, "--allow-large-delta"]) == 0
    assert len(_large_delta_warnings(caught)) == 1
    card = load_artifact(out).card
    assert card["config"]["allow_large_delta"] is True and card["privacy"]["allow_large_delta"] is True


def test_the_flag_comes_from_the_config_dataclass(capsys):
    with pytest.raises(SystemExit):
        main(["privacy", "psg", "--help"])
    assert "--allow-large-delta" in capsys.readouterr().out
