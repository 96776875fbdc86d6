"""``benchmarks/robust_teachers.py``: SRe2L teachers attacked on the validation split, pooled and class by class; the
table's verdict applies the committed rule (Δ at the middle ε ≥ +5 and Δ clean ≥ −2, pooled and class-balanced)."""

import json
import statistics

import pytest

from tests.bench_script import load_bench, write_pneumonia


@pytest.fixture
def bench(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSEKIT_CACHE", str(tmp_path / "cache"))
    mod = load_bench("robust_teachers.py", monkeypatch)
    write_pneumonia(tmp_path / "data", val=7)
    args = ["--dataset", "pneumoniamnist", "--root", str(tmp_path / "data"), "--teacher-epochs", "1",
            "--teacher-warmup", "0", "--teacher-batch", "8", "--curvature", "5", "--h-grid", "0.5",
            "--directions", "reference", "--eps", "1/255,2/255,4/255", "--results", str(tmp_path / "t.json"),
            "--students", str(tmp_path / "robust.json")]  # fmt: skip
    return mod, tmp_path, args


def test_teachers_are_scored_on_every_validation_image_and_each_class(bench):
    mod, tmp, args = bench
    with pytest.raises(FileNotFoundError, match="--train"):  # nothing cached: refused, not trained silently
        mod.main(args)
    assert mod.main([*args, "--train"]) == 0
    entries = json.loads((tmp / "t.json").read_text())["entries"]
    stem = "pneumoniamnist/convnet_bn_small/e1-w0-b8-s0"
    assert sorted(entries) == [f"{stem}/lam5-h0.5/val", f"{stem}/plain/val"]
    for e in entries.values():
        assert e["split"] == "val" and e["images"] == 7 and e["class_counts"] == {"0": 4, "1": 3}
        assert e["teacher"]["config"]["epochs"] == 1 and e["teacher"]["trained_here"]
        assert e["command"].startswith("python benchmarks/robust_teachers.py")
        pooled, per = e["pooled"], e["per_class"]
        assert [c["images"] for c in per.values()] == [4, 3]
        # the class-balanced figure is the mean of the per-class ones; robust never above clean
        assert e["balanced"]["clean"] == pytest.approx(statistics.fmean(c["clean"] for c in per.values()), abs=1e-3)
        assert e["balanced"]["pgd"]["2/255"] == pytest.approx(
            statistics.fmean(c["pgd"]["2/255"] for c in per.values()), abs=1e-3
        )
        assert pooled["pgd"]["1/255"] >= pooled["pgd"]["2/255"] >= pooled["pgd"]["4/255"]  # the ε cascade
        assert max(pooled["pgd"].values()) <= pooled["clean"] and pooled["fgsm"]["2/255"] <= pooled["clean"]
    assert entries[f"{stem}/lam5-h0.5/val"]["teacher"]["curvature"]["lam"] == 5.0
    assert mod.main(args) == 0  # cached now: loaded, not trained again
    entries = json.loads((tmp / "t.json").read_text())["entries"]
    assert not entries[f"{stem}/plain/val"]["teacher"]["trained_here"]
    text = mod.table(tmp / "t.json")
    assert "| plain | 0 | - | - |" in text and "| lam5-h0.5 | 5 | 0.5 | reference |" in text
    assert "Target (Δ 2/255 ≥ +5" in text


def test_a_teacher_of_another_schedule_and_bad_options_are_refused(bench):
    mod, tmp, args = bench
    assert mod.main([*args, "--curvature", "5", "--train"]) == 0
    folder = next((tmp / "cache" / "teachers").glob("*-plain-s0"))
    card = json.loads((folder / "card.json").read_text())
    card["config"]["lr"] = 0.1  # a teacher trained otherwise under this folder's name
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="--teacher-"):
        mod.main(args)
    with pytest.raises(ValueError, match="--directions"):
        mod.main([*args, "--directions", "sideways"])
    with pytest.raises(ValueError, match="--curvature"):
        mod.main([*args, "--curvature", "0,5"])
    # refused by name before the (mismatched) plain teacher is read: its --teacher- error would come first
    for option, value in (("--curvature", "abc"), ("--curvature", "nan"), ("--h-grid", "0"), ("--fgsm-eps", "2")):
        with pytest.raises(ValueError, match=f"argument {option}"):
            mod.main([*args, option, value])


def _entry(lam: float, clean: float, mid: float, per_class: list[tuple[float, float]]) -> dict:
    per = {str(i): {"images": 10, "clean": c, "pgd": {"1/255": m, "2/255": m}, "fgsm": {"2/255": m}}
           for i, (c, m) in enumerate(per_class)}  # fmt: skip
    return {
        "lambda": lam, "h": 0.5 if lam else None, "direction": "reference" if lam else None, "images": 20,
        "class_counts": {"0": 10, "1": 10}, "eps": ["1/255", "2/255"], "middle_eps": "2/255",
        "pooled": {"clean": clean, "pgd": {"1/255": mid, "2/255": mid}, "fgsm": {"2/255": mid}},
        "per_class": per, "balanced": _balanced(per), "students": [], "cost": {"cpu_s": 1.0},
    }  # fmt: skip


def _balanced(per: dict) -> dict:
    parts = list(per.values())
    return {"clean": statistics.fmean(p["clean"] for p in parts),
            "pgd": {e: statistics.fmean(p["pgd"][e] for p in parts) for e in ("1/255", "2/255")},
            "fgsm": {"2/255": statistics.fmean(p["fgsm"]["2/255"] for p in parts)}}  # fmt: skip


def test_verdict_needs_both_views_within_two_clean_points(bench):
    mod, tmp, _ = bench
    stem = "ds/m/e1-w0-b8-s0"
    entries = {
        f"{stem}/plain/val": _entry(0, 90.0, 80.0, [(90.0, 80.0), (90.0, 80.0)]),
        # +5 pooled, +5 balanced, clean −2 both: meets the rule (the boundary counts)
        f"{stem}/lam1-h0.5/val": _entry(1, 88.0, 85.0, [(88.0, 85.0), (88.0, 85.0)]),
        # +6 pooled but +4 balanced (a shift towards one class): does not
        f"{stem}/lam2-h0.5/val": _entry(2, 90.0, 86.0, [(90.0, 78.0), (90.0, 90.0)]),
        # +7 at 2/255 but clean −2.5: does not
        f"{stem}/lam3-h0.5/val": _entry(3, 87.5, 87.0, [(87.5, 87.0), (87.5, 87.0)]),
    }
    path = tmp / "verdict.json"
    path.write_text(json.dumps({"entries": entries}))
    text = mod.table(path)
    assert "met by lam1-h0.5;" in text  # and by no other
    assert "needs PGD 2/255 ≥ 85.00 % pooled and ≥ 85.00 % balanced" in text
    assert "the best within 2 clean points (both views) is lam1-h0.5: Δ 2/255 +5.00 pooled, +5.00 balanced" in text


def test_students_of_the_same_teacher_are_copied_with_their_delta(bench):
    mod, tmp, _ = bench
    folder = tmp / "cache" / "teachers" / "pn-curv5-h0.5-s0"
    plain_folder = "/elsewhere/pn-plain-s0"

    def e(lam: float, attack: str, eps: str, mean: float, teacher: str, split: str = "val") -> dict:
        return {"split": split, "attack": attack, "eps": eps, "mean": mean, "curvature": lam > 0, "method": "m-val",
                "relabel": "online", "mode": "teacher" if lam else None, "ipc": 10, "runs": [mean] * 3,
                "experts": {"folder": teacher}}  # fmt: skip

    stem = "pn/m-val/cnn/ipc10"
    entries = {
        f"{stem}/lam0/seed0/clean/0": e(0, "clean", "0", 90.0, plain_folder),
        f"{stem}/lam0/seed0/pgd/2/255": e(0, "pgd", "2/255", 80.0, plain_folder),
        f"{stem}/lam5-h0.5/seed0/clean/0": e(5, "clean", "0", 89.0, f"/root/x/{folder.name}"),
        f"{stem}/lam5-h0.5/seed0/pgd/2/255": e(5, "pgd", "2/255", 81.5, f"/root/x/{folder.name}"),
        "pn/m/cnn/ipc10/lam5-h0.5/seed0/clean/0": e(5, "clean", "0", 70.0, str(folder), split="test"),
    }
    path = tmp / "robust.json"
    path.write_text(json.dumps({"entries": entries}))
    rows = mod.student_audits(folder, "2/255", path)
    assert len(rows) == 1  # the test-split audit of the same teacher is not copied
    assert rows[0]["delta_clean"] == -1.0 and rows[0]["delta_pgd 2/255"] == 1.5
    assert rows[0]["plain_key"] == f"{stem}/lam0/seed0"
