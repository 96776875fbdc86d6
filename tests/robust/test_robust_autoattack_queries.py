"""AutoAttack's Square stage takes ``AttackConfig.autoattack_queries`` queries (Croce & Hein's standard 5,000 by
default; it was fixed at 5,000, so even a tiny audit spent minutes in Square), and what ran says a non-standard
count; the CLI exposes it as ``--autoattack-queries``."""

from __future__ import annotations

import pytest

from condensekit.core.cli import main
from condensekit.robust.attacks import ATTACKS, AttackConfig, autoattack_description
from tests.robust.test_robust_attacks import _blobs


@pytest.mark.parametrize("k", [4, 2])
def test_square_queries_are_set_and_recorded(k: int) -> None:
    _, _, model = _blobs(k)
    for queries, standard in ((5000, True), (50, False)):
        cfg = AttackConfig(autoattack_queries=queries)
        atk = ATTACKS.get("autoattack").build(model, 0.1, k, 0, cfg)
        squares = [s for s in getattr(atk, "_autoattack", atk).attacks if type(s).__name__ == "Square"]
        assert len(squares) == 1 and squares[0].n_queries == queries
        text = autoattack_description(k, cfg)
        assert ("Square at 50 queries (standard: 5,000)" in text) is not standard
    assert AttackConfig().autoattack_queries == 5000
    with pytest.raises(ValueError, match="argument autoattack_queries"):
        AttackConfig(autoattack_queries=0)


def test_the_audit_command_takes_the_query_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["robust", "audit", "--help"])
    assert "--autoattack-queries" in capsys.readouterr().out
