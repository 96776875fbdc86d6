from __future__ import annotations

import json

import pytest
import torch

from condensekit.core.artifact import load_artifact
from condensekit.core.vision import CondensedImages, ImageTrainConfig
from condensekit.robust.attacks import AttackConfig, PixelSpace, adversarial
from condensekit.robust.audit import AuditConfig, audit_artifact, audit_images
from condensekit.robust.spread import shard_pieces
from tests.robust.test_robust_audit import _artifact, _data

# small batches and chunks, so that 2 workers get shards that start inside the 1-worker batch sequence; 3 PGD
# steps at ε 0.15-0.25 leave the toy models' accuracy depending on PGD's random start (another attack seed
# moves these rows by 5-20 points), so a shard given the wrong start would show
SPREAD = dict(
    models=("mlp",), runs=2, subset=40, train=ImageTrainConfig(epochs=30, lr=0.05),
    attack=AttackConfig(pgd_steps=3, batch_size=12, forward_chunk=4),
)  # fmt: skip
EPS = ("0.15", "0.2", "0.25")


def test_shard_pieces_cut_on_the_one_worker_grid_and_balance():
    groups = shard_pieces(530, 2, 500, 64)
    flat = [p for g in groups for p in g]
    assert flat[0][0] == 0 and flat[-1][1] == 530
    assert all(a[1] == b[0] for a, b in zip(flat, flat[1:], strict=False))  # contiguous, in order
    for s, e in flat:
        batch = s // 500 * 500
        assert e <= batch + 500 and (s - batch) % 64 == 0  # inside one batch, on its chunk grid
    sizes = [sum(e - s for s, e in g) for g in groups]
    assert sizes == [256, 274]  # the cut nearest the middle on the grid; the 30-image batch is its own piece
    assert groups[1] == [(256, 500), (500, 530)]
    assert shard_pieces(10, 3, 500, 64) == [[(0, 10)]]  # one chunk: one shard, the others dropped
    assert shard_pieces(0, 2, 500, 64) == []
    assert shard_pieces(20, 4, 8, 0) == [[(0, 8)], [(8, 16)], [(16, 20)]]  # no chunks: whole batches


def test_rng_offset_gives_a_shard_the_pgd_start_of_one_call():
    data = _data()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    pixel = PixelSpace(net, data.mean, data.std).eval()
    x = data.denormalise(data.x_test[:20]).clamp(0, 1)
    y = data.y_test[:20]
    cfg = AttackConfig(pgd_steps=3, batch_size=8)
    whole = adversarial(pixel, x, y, "pgd", 0.1, num_classes=4, seed=3, config=cfg)
    part = adversarial(pixel, x[8:16], y[8:16], "pgd", 0.1, num_classes=4, seed=3, config=cfg, rng_offset=8)
    unskipped = adversarial(pixel, x[8:16], y[8:16], "pgd", 0.1, num_classes=4, seed=3, config=cfg)
    assert torch.equal(part, whole[8:16])
    assert not torch.equal(unskipped, whole[8:16])


def test_two_workers_equal_one_for_fgsm_and_pgd_and_the_card_records_them(tmp_path):
    data = _data()
    path = _artifact(tmp_path, data)
    one = AuditConfig(attacks=("fgsm", "pgd"), eps=EPS, **SPREAD)
    two = AuditConfig(attacks=("fgsm", "pgd"), eps=EPS, workers=2, **SPREAD)
    ref = audit_images(*_set(path), data, config=one, device="cpu")
    res, files = audit_artifact(path, config=two, data=data, device="cpu")
    assert [(r["model"], r["attack"], r["eps"]) for r in res.rows] == [
        (r["model"], r["attack"], r["eps"]) for r in ref.rows
    ]
    assert [r["runs"] for r in res.rows] == [r["runs"] for r in ref.rows]
    pgd = [r["mean"] for r in res.rows if r["attack"] == "pgd"]
    assert pgd[0] > pgd[-1]  # the attack did break images, so the equality is not of untouched rows
    assert ref.cost["workers"] == 1 and "cpu_time_workers_s" not in ref.cost
    assert res.cost["workers"] == 2 and res.cost["cpu_time_workers_s"] > 0
    assert res.cost["cpu_time_s"] >= res.cost["cpu_time_workers_s"]
    assert set(res.cost["attack_cpu_time_s"]) == {"fgsm", "pgd"}
    assert json.loads(open(files["json"]).read())["config"]["workers"] == 2
    assert load_artifact(path).card["audits"][-1]["config"]["workers"] == 2


def _set(path):
    cond = CondensedImages.load(path)
    return cond.x, cond.targets()


def test_workers_errors():
    with pytest.raises(ValueError, match="argument workers. Valid values are integers >= 1"):
        AuditConfig(workers=0)
    data = _data()
    with pytest.raises(ValueError, match="workers on device 'meta'"):
        audit_images(data.x_train, data.y_train, data, config=AuditConfig(workers=2, **SPREAD), device="meta")
