from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.vision import CondensedImages, ImageSplits, ImageTrainConfig, image_source
from condensekit.robust import audit as audit_mod
from condensekit.robust.attacks import AttackConfig
from condensekit.robust.audit import AuditConfig, AuditResult, audit_artifact, audit_images, record_audit


def _data(k: int = 4, per: int = 12, size: int = 8, seed: int = 0) -> ImageSplits:
    """k classes of 1×size×size images whose class brightens one row band; normalised with (0.5, 0.25)."""
    gen = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(k).repeat(n)
        x = 0.2 + 0.2 * torch.rand(len(y), 1, size, size, generator=gen)
        for c in range(k):
            x[y == c, :, 2 * c : 2 * c + 2] += 0.5
        return (x - 0.5) / 0.25, y

    (xt, yt), (xv, yv), (xs, ys) = split(per), split(2), split(per)
    return ImageSplits("toy", xt, yt, xv, yv, xs, ys, num_classes=k, mean=(0.5,), std=(0.25,))


FAST = dict(
    models=("mlp",), runs=2, subset=20, train=ImageTrainConfig(epochs=30, lr=0.05),
    attack=AttackConfig(pgd_steps=5),
)  # fmt: skip


def _artifact(tmp_path, data: ImageSplits):
    keep = torch.cat([(data.y_train == c).nonzero()[:2, 0] for c in range(data.num_classes)])
    cond = CondensedImages(data.x_train[keep], data.y_train[keep], {
        "domain": "medical", "method": "random", "config": {}, "source": image_source(data), "budget": 8, "seed": 0,
    })  # fmt: skip
    return cond.save(tmp_path / "toy-random")


def test_audit_table_rows_sanity_and_cost():
    data = _data()
    cfg = AuditConfig(attacks=("fgsm", "pgd"), eps=("0.3", "0.02"), **FAST)
    res = audit_images(data.x_train, data.y_train, data, config=cfg, device="cpu")
    assert cfg.eps == ("0.02", "0.3")  # sorted as numbers
    keys = [(r["model"], r["attack"], r["eps"]) for r in res.rows]
    assert keys == [("mlp", "clean", "0"), ("mlp", "fgsm", "0.02"), ("mlp", "fgsm", "0.3"),
                    ("mlp", "pgd", "0.02"), ("mlp", "pgd", "0.3")]  # fmt: skip
    clean = res.rows[0]["mean"]
    assert clean > 80
    assert all(r["mean"] <= clean for r in res.rows)
    assert all(len(r["runs"]) == 2 for r in res.rows)
    pgd = {r["eps"]: r["mean"] for r in res.rows if r["attack"] == "pgd"}
    assert pgd["0.3"] < pgd["0.02"]
    assert res.sanity["ok"] and res.sanity["issues"] == []
    # the default ε cascade makes the falling curve a construction, not a finding: never reported as passed
    assert {c["status"] for c in res.sanity["checks"]} == {"by construction"}
    assert res.sanity["summary"] == "accuracy falls with eps: by construction for fgsm, pgd (eps cascade: each eps " \
        "attacks only the images the smaller eps left standing)"
    assert res.subset == "stratified 20 (seed 0)" and res.test_images == 20
    assert res.cost["wall_time_s"] > 0 and res.cost["cpu_time_s"] > 0 and res.cost["peak_memory_mb"] > 0
    assert "| mlp   | pgd" in res.table()


def test_sanity_checks_the_curve_only_where_it_can_fail():
    data = _data()
    fresh = AuditConfig(**(FAST | {"attack": AttackConfig(pgd_steps=5, cascade_eps=False)}),
                        attacks=("pgd", "cw"), eps=("0.02", "0.3"))  # fmt: skip
    res = audit_images(data.x_train, data.y_train, data, config=fresh, device="cpu")
    status = {c["attack"]: c["status"] for c in res.sanity["checks"]}
    # every ε attacked afresh: a real check (that passed); cw runs once and is counted within each ε
    assert status == {"pgd": "passed", "cw": "by construction"}
    assert "falls with eps: passed for pgd" in res.sanity["summary"]
    assert "by construction for cw (minimum-norm" in res.sanity["summary"]
    assert audit_mod.eps_monotone(AuditConfig(attacks=("fgsm", "cw"))) == {
        "fgsm": "eps cascade: each eps attacks only the images the smaller eps left standing",
        "cw": "minimum-norm: one example per image, counted within each eps",
    }
    assert audit_mod.eps_monotone(fresh) == {"cw": "minimum-norm: one example per image, counted within each eps"}


def test_sanity_under_the_cascade_keeps_autoattack_below_pgd_a_real_check():
    rows = [
        {"model": "m", "attack": "pgd", "eps": "a", "mean": 50.0},
        {"model": "m", "attack": "pgd", "eps": "b", "mean": 40.0},
        {"model": "m", "attack": "autoattack", "eps": "a", "mean": 55.0},
        {"model": "m", "attack": "autoattack", "eps": "b", "mean": 30.0},
    ]
    why = {"pgd": "eps cascade", "autoattack": "eps cascade"}
    out = audit_mod._sanity(rows, ("m",), ("pgd", "autoattack"), by_construction=why)
    assert not out["ok"] and out["issues"] == ["m at a: AutoAttack 55.00 > PGD 50.00"]
    assert out["summary"] == (
        "AutoAttack <= PGD: failed (1 of 2 model x eps); accuracy falls with eps: by construction for pgd, "
        "autoattack (eps cascade)"
    )
    rows[2]["mean"] = 45.0
    out = audit_mod._sanity(rows, ("m",), ("pgd", "autoattack"), by_construction=why)
    assert out["ok"] and out["summary"].startswith("AutoAttack <= PGD: passed (2 of 2 model x eps)")
    assert "passed for" not in out["summary"]  # the curve is not reported as a pass


def test_sanity_flags_rising_accuracy_and_autoattack_above_pgd():
    rows = [
        {"model": "m", "attack": "pgd", "eps": "a", "mean": 50.0},
        {"model": "m", "attack": "pgd", "eps": "b", "mean": 60.0},
        {"model": "m", "attack": "autoattack", "eps": "a", "mean": 55.0},
        {"model": "m", "attack": "autoattack", "eps": "b", "mean": 10.0},
    ]
    out = audit_mod._sanity(rows, ("m",), ("pgd", "autoattack"))
    assert not out["ok"]
    assert any("rises" in i for i in out["issues"]) and any("AutoAttack 55.00 > PGD 50.00" in i for i in out["issues"])
    assert {(c["attack"], c["status"]) for c in out["checks"] if c["check"] == "falls with eps"} == {
        ("pgd", "failed"), ("autoattack", "passed")}  # fmt: skip


def test_audit_artifact_writes_json_png_and_card(tmp_path):
    data = _data()
    path = _artifact(tmp_path, data)
    cfg = AuditConfig(attacks=("fgsm",), eps=("0.1",), **FAST)
    res, files = audit_artifact(path, config=cfg, data=data, device="cpu")
    record = json.loads(open(files["json"]).read())
    assert record["rows"] == res.rows and record["subset"] == "stratified 20 (seed 0)"
    png = open(files["png"], "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert record["png_sha256"] == hashlib.sha256(png).hexdigest()  # the record names the PNG it belongs to
    audits = load_artifact(path).card["audits"]
    assert len(audits) == 1 and audits[0]["kind"] == "adversarial_robustness" and audits[0]["rows"] == res.rows
    assert audits[0]["png_sha256"] == record["png_sha256"]


def _result(mean: float) -> AuditResult:
    rows = [{"model": "mlp", "attack": a, "eps": e, "eps_value": 0.0, "mean": m, "std": 0.0, "runs": [m]}
            for a, e, m in (("clean", "0", 90.0), ("fgsm", "0.1", mean))]  # fmt: skip
    return AuditResult(rows, "toy", "all 4", 4, {}, {"ok": True, "issues": [], "checks": []}, {})


def test_killed_audit_leaves_whole_files_and_a_stale_png_is_told(tmp_path, monkeypatch):
    path = _artifact(tmp_path, _data())
    files = record_audit(path, _result(50.0), method="random")
    json_before, card_before = Path(files["json"]).read_text(), (path / "card.json").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(audit_mod, "write_json", killed)  # dies after the PNG, before the JSON and the card
    with pytest.raises(KeyboardInterrupt):
        record_audit(path, _result(20.0), method="random")
    assert Path(files["json"]).read_text() == json_before and (path / "card.json").read_text() == card_before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # the PNG is the second audit's, and the first audit's record says so: its digest is not this PNG's
    stale = hashlib.sha256(Path(files["png"]).read_bytes()).hexdigest()
    assert json.loads(json_before)["png_sha256"] != stale
    assert load_artifact(path).card["audits"][-1]["png_sha256"] != stale


def test_bad_input_errors(tmp_path):
    data = _data()
    with pytest.raises(ValueError, match="Unknown attack 'boom'"):
        AuditConfig(attacks=("boom",))
    with pytest.raises(ValueError, match="outside the data range"):
        AuditConfig(eps=("2",))
    with pytest.raises(ValueError, match="does not fit"):
        audit_images(data.x_train, data.y_train, data, config=AuditConfig(models=("convnet_d4",), **{
            k: v for k, v in FAST.items() if k != "models"}), device="cpu")  # fmt: skip
    other = _data(size=12)
    with pytest.raises(ValueError, match="condensed images are"):
        audit_images(other.x_train, other.y_train, data, config=AuditConfig(**FAST), device="cpu")
    save_artifact(tmp_path / "g", {"x": torch.zeros(3, 4), "y": torch.zeros(3)}, {
        "domain": "graph", "task": "node_classification", "method": "gcond", "config": {},
        "source": {"dataset": "cora"}, "budget": 3, "seed": 0})  # fmt: skip
    with pytest.raises(ValueError, match="needs an 'image_classification' artifact"):
        audit_artifact(tmp_path / "g", data=data)


def test_audit_trains_on_soft_labels_with_the_sets_temperature(monkeypatch):
    data = _data()
    soft = torch.nn.functional.one_hot(data.y_train, data.num_classes).float() * 0.9 + 0.1 / data.num_classes
    seen = []
    real_fit = audit_mod.fit_images

    def spy(*args, **kwargs):
        seen.append(kwargs.get("loss_fn"))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(audit_mod, "fit_images", spy)
    cfg = AuditConfig(attacks=("pgd",), eps=("0.02",), **FAST)
    res = audit_images(data.x_train, soft, data, config=cfg, temperature=3.0, device="cpu")
    assert res.rows[0]["mean"] > 80 and len(seen) == 2 and all(f is not None for f in seen)
    logits = torch.randn(4, data.num_classes)
    assert torch.allclose(seen[0](logits, soft[:4]), 9 * torch.nn.functional.cross_entropy(logits / 3, soft[:4]))
    with pytest.raises(ValueError, match="hard labels"):
        audit_images(data.x_train, data.y_train, data, config=cfg, temperature=3.0, device="cpu")
    with pytest.raises(ValueError, match="soft labels"):
        audit_images(data.x_train, soft[:, :2], data, config=cfg, device="cpu")


def test_audit_files_of_artifacts_whose_names_hold_dots_do_not_collide(tmp_path):
    data = _data()
    cfg = AuditConfig(attacks=("fgsm",), eps=("0.1",), **FAST)
    first = _artifact(tmp_path, data).rename(tmp_path / "set-lr0.01-a")
    second = _artifact(tmp_path, data).rename(tmp_path / "set-lr0.01-b")
    _, f1 = audit_artifact(first, config=cfg, data=data, device="cpu")
    _, f2 = audit_artifact(second, config=cfg, data=data, device="cpu")
    assert f1["json"] == str(tmp_path / "set-lr0.01-a-robust-audit.json") and f1["json"] != f2["json"]
    assert f1["png"] == str(tmp_path / "set-lr0.01-a-robust-audit.png")
    _, f3 = audit_artifact(first, config=cfg, data=data, device="cpu", out=tmp_path / "mine.json")
    assert f3 == {"json": str(tmp_path / "mine.json"), "png": str(tmp_path / "mine.png")}


@pytest.mark.parametrize(("bad", "message"), [("convnet_d4", "does not fit"), ("nosuchnet", "Unknown image model")])
def test_every_evaluation_model_is_checked_before_any_is_trained(monkeypatch, bad, message):
    data = _data()
    trained = []
    monkeypatch.setattr(audit_mod, "fit_images", lambda *a, **k: trained.append(1))
    cfg = AuditConfig(attacks=("fgsm",), eps=("0.1",), **(FAST | {"models": ("mlp", bad)}))
    with pytest.raises(ValueError, match=message):
        audit_images(data.x_train, data.y_train, data, config=cfg, device="cpu")
    assert trained == []  # a bad second model is refused before the first one costs anything


@pytest.mark.parametrize(("k", "ran"), [(3, "APGD-CE → FAB → Square-5000"), (4, "AutoAttack(version='standard')")])
def test_the_result_records_which_autoattack_ran(monkeypatch, k, ran):
    monkeypatch.setattr(audit_mod, "robust_accuracy", lambda *a, **kw: dict.fromkeys(a[4], 50.0))
    cfg = AuditConfig(attacks=("autoattack",), eps=("0.1",), **FAST)
    data = _data(k=k)
    res = audit_images(data.x_train, data.y_train, data, config=cfg, device="cpu")
    assert ran in res.config["autoattack_ran"]  # below 4 classes it is not AutoAttack standard, and says so


def test_l2_attacks_alone_take_eps_up_to_the_l2_diameter_of_the_images(monkeypatch):
    # an L2 ε of 2 (MNIST's usual PGD-L2 budget) lies inside [0, 1]^d for d > 4; it was refused as outside the range
    monkeypatch.setattr(audit_mod, "robust_accuracy", lambda *a, **kw: dict.fromkeys(a[4], 50.0))
    data = _data()  # 1×8×8 images: L2 diameter 8
    cfg = AuditConfig(attacks=("pgdl2", "cw"), eps=("0.5", "2"), **FAST)
    res = audit_images(data.x_train, data.y_train, data, config=cfg, device="cpu")
    assert [r["eps"] for r in res.rows if r["attack"] == "pgdl2"] == ["0.5", "2"]
    with pytest.raises(ValueError, match="outside the data range"):  # an L∞ attack in the grid: (0, 1]
        AuditConfig(attacks=("pgdl2", "pgd"), eps=("2",))
    with pytest.raises(ValueError, match=r"argument eps: ε = 9 is beyond the L2 diameter 8 of the 1×8×8 images"):
        audit_images(data.x_train, data.y_train, data, config=AuditConfig(attacks=("pgdl2",), eps=("9",), **FAST))


def test_a_model_named_twice_is_trained_once_not_reported_as_twice_the_runs():
    data = _data()
    cfg = AuditConfig(attacks=("fgsm",), eps=("0.1",), **(FAST | {"models": ("mlp", "mlp"), "runs": 1}))
    assert cfg.models == ("mlp",)
    res = audit_images(data.x_train, data.y_train, data, config=cfg, device="cpu")
    assert [len(r["runs"]) for r in res.rows] == [1, 1]  # was [2, 2]: the same seed twice, std 0 by construction


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: AttackConfig(pgd_step_ratio=float("inf")), "pgd_step_ratio"),  # an infinite PGD step
        (lambda: AttackConfig(cw_c=float("inf")), "cw_c"),
        (lambda: AttackConfig(pgd_steps=2.5), "pgd_steps"),
        (lambda: AttackConfig(forward_chunk=0.5), "forward_chunk"),
        (lambda: AuditConfig(runs=1.5), "runs"),  # failed later, in range(), after the data loaded
        (lambda: AuditConfig(subset=2.5), "subset"),
        (lambda: AuditConfig(workers=True), "workers"),
    ],
)
def test_audit_counts_are_integers_and_attack_constants_finite(make, argument):
    with pytest.raises(ValueError, match=f"Invalid value .* for argument {argument}. Valid values are"):
        make()


def test_auditing_the_current_folder_writes_beside_it(tmp_path, monkeypatch):
    """`condensekit robust audit .` from inside the artifact computed the whole audit, then failed on
    Path('.').with_name (an empty name) and wrote nothing."""
    data = _data()
    path = _artifact(tmp_path, data)
    monkeypatch.chdir(path)
    _, files = audit_artifact(".", config=AuditConfig(attacks=("fgsm",), eps=("0.1",), **FAST), data=data)
    assert files["json"] == str(tmp_path / "toy-random-robust-audit.json")
    assert (tmp_path / "toy-random-robust-audit.png").exists()
    assert len(load_artifact(path).card["audits"]) == 1
    fitted = []
    monkeypatch.setattr(audit_mod, "fit_images", lambda *a, **k: fitted.append(1))
    with pytest.raises(ValueError, match="argument out"):
        audit_artifact(".", config=AuditConfig(attacks=("fgsm",), eps=("0.1",), **FAST), data=data, out="")
    assert fitted == []  # refused before any model trains


def test_audit_config_models_take_a_comma_separated_string_like_attacks_and_eps():
    cfg = AuditConfig(attacks="fgsm", eps="0.1", models="convnet, mlp,convnet")
    assert cfg.models == ("convnet", "mlp")  # was ('c', 'o', 'n', 'v', 'e', 't'): one model per letter
    with pytest.raises(ValueError, match="argument models"):
        AuditConfig(models=" , ")


def test_audit_artifact_puts_the_real_data_in_the_sets_normalisation(tmp_path, monkeypatch):
    # a set stored in another normalisation than the loader's (a private set: public 0.5/0.5) was trained and
    # attacked beside real images in the loader's (0.5/0.25) without a word: two different pixel scales
    data = _data()
    other = data.renormalised((0.5,), (0.5,))
    path = _artifact(tmp_path, other)
    seen = {}

    def spy(x, y, real, **kwargs):
        seen["real"] = real
        raise RuntimeError("stop")

    monkeypatch.setattr(audit_mod, "audit_images", spy)
    with pytest.raises(RuntimeError, match="stop"):
        audit_artifact(path, config=AuditConfig(attacks=("fgsm",), eps=("0.1",), **FAST), data=data, device="cpu")
    real = seen["real"]
    assert (real.mean, real.std) == ((0.5,), (0.5,))
    assert torch.allclose(real.denormalise(real.x_test), data.denormalise(data.x_test), atol=1e-6)
    assert torch.allclose(real.x_train, other.x_train, atol=1e-6)


def test_autoattack_above_pgd_in_one_run_fails_the_check_though_the_means_hide_it():
    # recorded: MNIST MTT λ 0 at 0.2, AutoAttack runs [1.8, 1.0, 1.2] against PGD [2.6, 0.9, 2.0]; means 1.33 <= 1.83
    rows = [
        {"model": "m", "attack": "pgd", "eps": "0.2", "mean": 1.8333, "runs": [2.6, 0.9, 2.0]},
        {"model": "m", "attack": "autoattack", "eps": "0.2", "mean": 1.3333, "runs": [1.8, 1.0, 1.2]},
    ]
    out = audit_mod._sanity(rows, ("m",), ("pgd", "autoattack"))
    assert not out["ok"] and out["issues"] == ["m at 0.2, run 2: AutoAttack 1.00 > PGD 0.90"]
    assert out["summary"] == "AutoAttack <= PGD: failed (0 of 1 model x eps)"
    rows[1]["runs"] = [1.8, 0.9, 1.2]  # equal in a run is within the check
    assert audit_mod._sanity(rows, ("m",), ("pgd", "autoattack"))["ok"]


def test_given_data_of_another_image_size_is_refused_by_the_cards_source(tmp_path):
    # given data was checked for its split only; the size mismatch surfaced later, in audit_images, naming no artifact
    path = _artifact(tmp_path, _data())
    refused = r"images are \[1, 8, 8\] \(channels, H, W\) but the real 'toy' data is \[1, 12, 12\]"
    with pytest.raises(ValueError, match=refused):
        audit_artifact(path, config=AuditConfig(**FAST), data=_data(size=12), device="cpu")
