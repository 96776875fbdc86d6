"""The README's Python examples run, on tiny generated data and cut sizes.

Each ``python`` block of README.md is executed as written, in a fresh namespace and a temporary
folder. Only what it loads and how long it works are replaced, through the public functions it
imports: the dataset loaders (``prepare_task("cora")``, ``prepare_graphs("proteins")``,
``load_medmnist(...)``, ``load_image_dataset("mnist")``) return tiny generated data of the same kind,
and each condensation, evaluation and audit entry point gets a few steps, epochs, runs or shadows
through keyword arguments the example does not give (an argument the example gives is passed
unchanged). A renamed or unexported function, a changed signature, a return value without the
attribute or key the example reads, or a ``print`` of something that no longer exists fails here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch_geometric.data import Data

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks() -> list[str]:
    return _BLOCK.findall(README.read_text())


def _block(*modules: str) -> str:
    """The one README block that imports every one of ``modules``."""
    found = [b for b in _blocks() if all(f"from {m} import" in b for m in modules)]
    assert len(found) == 1, f"README should have one python block importing {modules}, found {len(found)}"
    return found[0]


def _tiny_node_graph(classes: int = 7, train: int = 12, val: int = 3, test: int = 5, features: int = 8) -> Data:
    """Cora's shape in miniature: ``classes`` classes, enough training nodes per class for the README's
    budget of 70 (10 per class), a class signal in the features, edges mostly within a class."""
    gen = torch.Generator().manual_seed(0)
    per = train + val + test
    n = classes * per
    y = torch.arange(classes).repeat_interleave(per)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    upper = (torch.rand(n, n, generator=gen) < torch.where(same, 0.3, 0.01)).triu(1)
    edge_index = (upper | upper.t()).nonzero().t().contiguous()
    x = 0.5 * torch.randn(n, features, generator=gen)
    x[torch.arange(n), y] += 1.0
    pos = torch.arange(n) % per
    return Data(x=x, edge_index=edge_index, y=y, train_mask=pos < train, val_mask=(pos >= train) & (pos < train + val),
                test_mask=pos >= train + val)


def _tiny_graph_list(per_class: int = 16) -> list[Data]:
    """Two classes of 3-6-node graphs (cycles and stars), enough per class for the README's 10 per class."""
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for c in range(2):
        for _ in range(per_class):
            n = 3 + int(torch.randint(0, 4, (1,), generator=gen))
            src = torch.arange(n)
            edges = torch.stack([src, (src + 1) % n]) if c == 0 else torch.stack([torch.zeros(n - 1, dtype=torch.long),
                                                                                  torch.arange(1, n)])
            x = 0.2 * torch.rand(n, 3, generator=gen)
            x[:, c] += 0.8
            graphs.append(Data(x=x, edge_index=torch.cat([edges, edges.flip(0)], 1), y=torch.tensor([c])))
    return graphs


def _wrap(fn: Callable[..., Any], **defaults: Any) -> Callable[..., Any]:
    """``fn`` with ``defaults`` for the keyword arguments a call does not give."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **{**defaults, **kwargs})

    return call


def _loader(fn: Callable[..., Any], name: str, tiny: Any) -> Callable[..., Any]:
    """``fn`` that returns ``tiny`` for the dataset ``name`` (the README's) and loads anything else."""

    @functools.wraps(fn)
    def load(data: Any, *args: Any, **kwargs: Any) -> Any:
        return tiny if isinstance(data, str) and data == name else fn(data, *args, **kwargs)

    return load


def _run(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "<README.md python block>", "exec"), {"__name__": "readme_example"})  # noqa: S102 - our own README


def test_readme_node_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import condensekit.graph as graph
    from condensekit.core.evaluate import TrainConfig
    from condensekit.graph import NodeEvalConfig

    tiny_task = graph.prepare_task(_tiny_node_graph(), device="cpu")
    monkeypatch.setattr(graph, "prepare_task", _loader(graph.prepare_task, "cora", tiny_task))
    monkeypatch.setattr(graph, "condense_nodes", _wrap(graph.condense_nodes, steps=1, eval_every=0, progress=False))
    monkeypatch.setattr(graph, "evaluate_node", _wrap(graph.evaluate_node, config=NodeEvalConfig(
        runs=2, train=TrainConfig(epochs=3))))
    _run(_block("condensekit.graph"), tmp_path, monkeypatch)
    assert sorted(p.name for p in (tmp_path / "cora-gcond-70").iterdir()) == ["card.json", "tensors.safetensors"]


def test_readme_graph_level_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import condensekit.graph.level as level
    from condensekit.graph.level import GraphEvalConfig

    tiny = level.prepare_graphs(_tiny_graph_list(), device="cpu")
    monkeypatch.setattr(level, "prepare_graphs", _loader(level.prepare_graphs, "proteins", tiny))
    monkeypatch.setattr(level, "condense_graphs", _wrap(level.condense_graphs, steps=1, progress=False,
                                                        config={"fused": False, "embed_epochs": 2}))
    short = GraphEvalConfig(runs=1, epochs=2)
    monkeypatch.setattr(level, "evaluate_graphs", _wrap(level.evaluate_graphs, config=short))
    _run(_block("condensekit.graph.level"), tmp_path, monkeypatch)
    assert sorted(p.name for p in (tmp_path / "proteins-kidd-10").iterdir()) == ["card.json", "tensors.safetensors"]


def _tiny_images(name: str, classes: int, task: str, per_class: int = 12, held_out: int = 4, side: int = 8,
                 mean: float = 0.5, std: float = 0.5) -> Any:
    """``classes`` classes of 1×side×side images, class c bright in its own band of rows; normalised with
    ``mean`` and ``std`` as the loader of ``name`` does. ``per_class`` training images per class, ``held_out``
    validation and ``held_out`` test images."""
    from condensekit.core.vision import ImageSplits

    gen = torch.Generator().manual_seed(0)
    band = max(side // classes, 1)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(classes).repeat(n)
        x = 0.2 * torch.rand(len(y), 1, side, side, generator=gen)
        for c in range(classes):
            x[y == c, :, (c * band) % side : (c * band) % side + band] += 0.7
        return (x - mean) / std, y

    (xt, yt), (xv, yv), (xs, ys) = split(per_class), split(held_out), split(held_out)
    return ImageSplits(name, xt, yt, xv, yv, xs, ys, num_classes=classes, task=task, mean=(mean,), std=(std,))


def test_readme_image_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import condensekit.core.vision as vision
    import condensekit.medical as medical
    import condensekit.privacy as privacy
    import condensekit.robust as robust
    from condensekit.core.vision.train import ImageTrainConfig

    pneumonia = _tiny_images("pneumoniamnist", 2, "binary-class")
    # MNIST's public constants; the LiRA audit's members (the set's 100 images) need 200 training and 100 held-out
    mnist = _tiny_images("mnist", 10, "multi-class", per_class=20, held_out=10, mean=0.1307, std=0.3081)
    short = ImageTrainConfig(epochs=2)
    monkeypatch.setattr(medical, "load_medmnist", _loader(medical.load_medmnist, "pneumoniamnist", pneumonia))
    monkeypatch.setattr(medical, "prepare_experts", _wrap(medical.prepare_experts,
                                                          overrides={"num_experts": 2, "epochs": 2, "batch_size": 8}))
    monkeypatch.setattr(medical, "condense_medical", _wrap(medical.condense_medical, select_every=0, progress=False,
        overrides={"iterations": 2, "stages": 2, "max_start_epoch": 1, "syn_steps": 2, "overlap_every": 0}))
    monkeypatch.setattr(medical, "evaluate_medical", _wrap(medical.evaluate_medical, config=short))
    monkeypatch.setattr(vision, "load_image_dataset", _loader(vision.load_image_dataset, "mnist", mnist))
    monkeypatch.setattr(privacy, "condense_private", _wrap(privacy.condense_private, steps=2))
    monkeypatch.setattr(privacy, "AuditConfig", _wrap(privacy.AuditConfig, train_steps=5))
    monkeypatch.setattr(privacy, "audit_artifact", _wrap(privacy.audit_artifact, data=mnist))
    monkeypatch.setattr(robust, "robust_condense", _wrap(robust.robust_condense, steps=2, progress=False,
                                                         config={"batch_real": 4}))
    monkeypatch.setattr(robust, "AuditConfig", _wrap(robust.AuditConfig, runs=1, subset=None, train=short))
    monkeypatch.setattr(robust, "audit_artifact", _wrap(robust.audit_artifact, data=pneumonia))
    _run(_block("condensekit.medical", "condensekit.privacy", "condensekit.robust"), tmp_path, monkeypatch)
    for name in ("pneumoniamnist-ptm-ipc10", "mnist-dp-merf-eps1", "pneumoniamnist-dm-curv100"):
        assert (tmp_path / "artifacts" / name / "card.json").is_file(), name
    assert (tmp_path / "artifacts" / "pneumoniamnist-dm-curv100-robust-audit.png").is_file()
