import pytest
import torch

from condensekit.core.artifact import load_artifact
from condensekit.core.vision import CondensedImages, image_source
from condensekit.privacy.audit import AuditConfig, audit_artifact, audit_set, roc_metrics


def test_roc_metrics_golden():
    perfect = roc_metrics(torch.tensor([3.0, 4.0, 5.0]), torch.tensor([0.0, 1.0, 2.0]))
    assert perfect == {"auc": 1.0, "tpr_at_01fpr": 1.0, "tpr_at_1fpr": 1.0}
    tied = roc_metrics(torch.zeros(4), torch.zeros(4))
    assert tied["auc"] == pytest.approx(0.5) and tied["tpr_at_1fpr"] == 0.0
    half = roc_metrics(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0]))
    assert half["auc"] == pytest.approx(0.75)
    assert roc_metrics(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0]))["auc"] == 0.0


def test_mislabelled_canaries_are_found_by_the_loss_attack(images):
    cfg = AuditConfig(attack="loss", model="mlp", train_steps=1000, canaries=5)
    rec = audit_set(None, None, images, cfg, size=20)
    assert rec["members"] == 20 and rec["target"] == "real subset"
    assert rec["canaries"]["auc"] > 0.9


def test_lira_online_and_offline_on_an_artifact(images, tmp_path):
    x, y = images.x_train[:8], images.y_train[:8]
    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(images), "budget": {},
            "seed": 0}
    CondensedImages(x, y, card).save(tmp_path / "a")
    cfg = AuditConfig(attack="lira", shadows=4, members=8, model="lr", train_steps=20)
    rec = audit_artifact(tmp_path / "a", cfg, data=images)
    assert rec["mode"] == "online" and rec["shadows"] == 4 and 0.0 <= rec["auc"] <= 1.0
    assert rec["non_members_from"] == "val"  # same file as the members, never used
    off = audit_artifact(tmp_path / "a", AuditConfig(attack="lira", mode="offline", shadows=3, members=8, model="lr",
                                                      train_steps=20), data=images)
    assert off["mode"] == "offline"
    audits = load_artifact(tmp_path / "a").card["audits"]
    assert [a["mode"] for a in audits] == ["online", "offline"] and all(a["kind"] == "membership" for a in audits)


def test_audit_errors(images, tmp_path):
    x, y = images.x_train[:8], images.y_train[:8]
    with pytest.raises(ValueError, match="split into at most 6"):
        audit_set(x, y, images, AuditConfig(mode="offline", shadows=7, members=8, model="lr", train_steps=5))
    with pytest.raises(ValueError, match="argument shadows"):
        AuditConfig(shadows=1)
    with pytest.raises(ValueError, match="argument attack"):
        AuditConfig(attack="magic")
    with pytest.raises(ValueError, match="argument members"):
        audit_set(x, y, images, AuditConfig(members=25, model="lr"))
    with pytest.raises(ValueError, match="every candidate would be IN every shadow"):  # 8 of 8 candidates
        audit_set(x, y, images, AuditConfig(attack="lira", shadows=2, members=4, model="lr", train_steps=5))
    with pytest.raises(ValueError, match="cannot be given canaries"):
        audit_set(x, y, images, AuditConfig(canaries=2, members=8, model="lr"))


def test_online_lira_candidate_without_in_shadows_is_not_scored_against_a_zero_mean():
    """Candidate 0 drew no IN shadow. Its target confidence (10) is what the IN shadows of the others show
    (OUT 5, IN 10): a member. Before, its IN mean was left at 0 and it scored as a confident non-member."""
    from condensekit.privacy.mia import lira_scores, one_sided

    gen = torch.Generator().manual_seed(0)
    inside = torch.tensor([[False, True, False, True], [False, False, True, True], [False, True, True, False],
                           [False, False, False, True]])  # fmt: skip
    conf = torch.where(inside, 10.0, 5.0) + 0.1 * torch.randn(4, 4, generator=gen)
    phi = torch.tensor([10.0, 10.0, 5.0, 5.0])
    for variance in ("global", "per_example"):
        score = lira_scores(phi, conf, inside, online=True, variance=variance)
        assert float(score[0]) > 0 and float(score[1]) > 0 and float(score[2]) < 0
    assert one_sided(inside) == 1
    # a candidate with every shadow IN: its OUT mean comes from the gap the same way
    flipped = lira_scores(torch.tensor([5.0, 5.0, 5.0, 5.0]), torch.where(~inside, 10.0, 5.0), ~inside, online=True)
    assert float(flipped[0]) < 0


def test_audit_refuses_data_split_other_than_the_artifacts(images, tmp_path):
    """A set made from 60 training records audited against a split of 50 (10 moved to validation): those 10
    could be drawn as non-members though the set was made from them. It ran silently."""
    from dataclasses import replace

    card = {"domain": "privacy", "method": "toy", "config": {}, "source": image_source(images), "budget": {},
            "seed": 0}  # fmt: skip
    CondensedImages(images.x_train[:8], images.y_train[:8], card).save(tmp_path / "a")
    other = replace(images, x_train=images.x_train[:50], y_train=images.y_train[:50],
                    x_val=torch.cat([images.x_val, images.x_train[50:]]),
                    y_val=torch.cat([images.y_val, images.y_train[50:]]))  # fmt: skip
    with pytest.raises(ValueError, match="condensed from 60 training images of 'toy', the real data given has 50"):
        audit_artifact(tmp_path / "a", AuditConfig(attack="loss", members=8, model="lr", train_steps=5), data=other)
