"""An audit's attacks spread over worker processes, image by image (``AuditConfig.workers``).

An audit attacks every evaluation model with every attack over an ε grid, and with the ε cascade
(``AttackConfig.cascade_eps``) each model's ε chain is sequential per image: ε₂ attacks only the images
that survived ε₁. So the work is split **by image**, never by ε: for each step of a chain (one model,
attack and ε) the images still standing are cut into ``workers`` contiguous shards of about equal size,
each attacked by one worker process; when every shard of a step is back, the chain's next ε is queued.
The chains of all models and attacks run at once, so the workers stay busy while one chain waits for its
last shard, and the split keeps the cascade intact. Without the cascade every ε of a chain is queued at
once.

Workers are ``spawn`` processes (a forked child of a process whose OpenMP pool is running can deadlock)
with 1 torch thread each; the trained, pixel-space models and the test images are sent once per worker,
at its start, and a job carries only indices. CPU only.

**Which figures equal the 1-worker ones.** Every image's attack is computed as in the 1-worker loop
(:func:`~condensekit.robust.attacks.robust_accuracy`), up to what the split changes:

* the shards are cut on the 1-worker loop's grid, at multiples of ``AttackConfig.forward_chunk`` inside
  its ``batch_size`` batches, so every forward pass sees the same images, in the same order, as it would
  in one process;
* a torchattacks attack draws its random numbers for the whole batch it is given. The 1-worker loop seeds
  once per (model, attack, ε) and then attacks its batches in turn, so a shard skips the draws of the
  images before it (``rng_offset`` of :func:`~condensekit.robust.attacks.adversarial`): PGD's uniform
  random start is then the one the image gets in one process;
* PGD and FGSM average their loss over the batch they are given, so a shard's input gradients are the
  1-worker ones times the ratio of the batch sizes, up to float rounding; their signs, which is all these
  attacks use, agree except where a gradient component is within rounding of zero.

So **FGSM and PGD give the 1-worker figures** (the tests check it on an audit whose PGD rows move with the
random start). Attacks that re-seed per call or draw per batch may differ with the split: AutoAttack (APGD
re-seeds every call, so an image's random start depends on its place in its shard; Square draws its squares
for the whole shard at every iteration), PGD-L2 (a Gaussian start), and CW where rounding differs. Their
figures are deterministic for a given worker count, and may differ from the 1-worker ones as a re-draw of
the attack's randomness would. Measured (BENCHMARKS.md): on the full PneumoniaMNIST ConvNet audit (3
students, 624 test images, FGSM / PGD / AutoAttack at 1, 2, 4, 8 /255) every figure with 2 workers equals
the 1-worker one, AutoAttack's included, at 481 s wall instead of ~16 CPU minutes in one process.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from condensekit.core.parallel import spawn_pool, worker_context
from condensekit.robust.attacks import ATTACKS, AttackConfig, adversarial, correct_in_batches

__all__ = ["shard_pieces", "spread_robust_accuracy"]


def shard_pieces(n: int, shards: int, batch_size: int, chunk: int) -> list[list[tuple[int, int]]]:
    """Cut positions ``0..n`` into at most ``shards`` contiguous groups of about ``n / shards`` positions.

    Cuts fall only on the 1-worker grid: batch boundaries (multiples of ``batch_size``) and, inside a batch,
    multiples of ``chunk`` from its start (``chunk`` 0 or ≥ the batch: whole batches). Each group is a list
    of ``(start, end)`` pieces, each inside one batch, so a piece attacked on its own sees the forward
    passes the 1-worker loop makes. Empty groups are dropped."""
    if n < 0 or shards < 1 or batch_size < 1 or chunk < 0:
        raise ValueError(f"shard_pieces needs n >= 0, shards >= 1, batch_size >= 1, chunk >= 0; got {n, shards}")
    units: list[tuple[int, int]] = []
    for b in range(0, n, batch_size):
        e = min(b + batch_size, n)
        step = chunk if 0 < chunk < e - b else e - b
        units += [(s, min(s + step, e)) for s in range(b, e, step)]
    groups: list[list[tuple[int, int]]] = [[] for _ in range(shards)]
    g = 0
    for s, e in units:
        # move on to the next group when this unit's midpoint lies past the group's share of the positions
        while g < shards - 1 and (s + e) / 2 > (g + 1) * n / shards:
            g += 1
        last = groups[g][-1] if groups[g] else None
        if last is not None and last[1] == s and s % batch_size != 0:  # merge within one batch
            groups[g][-1] = (last[0], e)
        else:
            groups[g].append((s, e))
    return [grp for grp in groups if grp]


def _worker_context(models: list[nn.Module], xs: list[Tensor], ys: list[Tensor], num_classes: int,
                    config: AttackConfig) -> dict[str, Any]:  # fmt: skip
    return {"models": models, "xs": xs, "ys": ys, "num_classes": num_classes, "config": config}


def _attack_job(m: int, attack: str, eps: float, seed: int, pieces: list[tuple[int, Tensor]]) -> dict[str, Any]:
    """Attack model ``m``'s clean-correct images ``xs[m][idx]`` of each ``(offset, idx)`` piece (``offset``: the
    piece's place in the 1-worker batch sequence); returns the pieces' correct-after-attack masks (and, for
    a minimum-norm attack, the perturbations' norms), the job's process CPU seconds and stage times."""
    c0 = time.process_time()
    ctx = worker_context()
    model, xs, ys = ctx["models"][m], ctx["xs"][m], ctx["ys"][m]
    config: AttackConfig = ctx["config"]
    spec = ATTACKS.get(attack)
    stages: dict[str, float] | None = {} if attack == "autoattack" else None
    correct, dist = [], []
    for offset, idx in pieces:
        x, y = xs[idx], ys[idx]
        adv = adversarial(model, x, y, attack, eps, num_classes=ctx["num_classes"], seed=seed, config=config,
                          stages=stages, rng_offset=offset)  # fmt: skip
        correct.append(correct_in_batches(model, adv, y, config.batch_size))
        if spec.minimum_norm:
            dist.append((adv - x).flatten(1).norm(p=2 if spec.norm == "L2" else float("inf"), dim=1))
    out = {"correct": torch.cat(correct), "cpu": time.process_time() - c0, "stages": stages or {}}
    if spec.minimum_norm:
        out["dist"] = torch.cat(dist)
    return out


@dataclass
class _Chain:
    """One model's ε chain under one attack: which images still stand, and the ε left to attack."""

    m: int
    attack: str
    seed: int
    eps_left: list[float]
    standing: Tensor
    cascade: bool
    out: dict[float, float] = field(default_factory=dict)
    pending: dict[Future, tuple[float, Tensor]] = field(default_factory=dict)  # future -> (ε, positions)
    parts: list[tuple[Tensor, dict[str, Any]]] = field(default_factory=list)


def spread_robust_accuracy(
    models: Sequence[nn.Module],
    x: Tensor,
    y: Tensor,
    attacks: Sequence[str],
    eps_grid: Sequence[float],
    *,
    num_classes: int,
    seeds: Sequence[int],
    cleans: Sequence[Tensor],
    config: AttackConfig,
    workers: int = 2,
) -> tuple[list[dict[str, dict[float, float]]], dict[str, float], dict[str, dict[str, float]]]:
    """:func:`~condensekit.robust.attacks.robust_accuracy` of every pixel-space model in ``models`` under every
    attack, with the images of each (model, attack, ε) step spread over ``workers`` processes.

    ``seeds[i]`` seeds model ``i``'s attacks and ``cleans[i]`` is its clean-correct mask over ``x``, as the
    1-worker audit passes them. Returns ``(acc, attack_cpu, stages)``: ``acc[i][attack][ε]`` robust accuracy
    (%) over all ``len(y)`` images; the workers' process CPU seconds per attack; and per attack the CPU
    seconds of each stage of a chained attack (AutoAttack)."""
    if workers < 1:
        raise ValueError(f"Invalid value {workers!r} for argument workers. Valid values are >= 1")
    if not (len(models) == len(seeds) == len(cleans)):
        raise ValueError(f"models, seeds and cleans differ in length: {len(models)}, {len(seeds)}, {len(cleans)}")
    if x.device.type != "cpu":
        raise ValueError(f"workers > 1 spreads attacks over CPU processes; the images are on {x.device}. Use workers=1")
    y = y.reshape(-1).long()
    n = y.shape[0]
    xs = [x[c] for c in cleans]
    ys = [y[c] for c in cleans]
    acc: list[dict[str, dict[float, float]]] = [{} for _ in models]
    attack_cpu: dict[str, float] = {}
    stages: dict[str, dict[str, float]] = {}
    chains: list[_Chain] = []
    for i in range(len(models)):
        for attack in attacks:
            if xs[i].shape[0] == 0:
                acc[i][attack] = dict.fromkeys(eps_grid, 0.0)
                continue
            grid = [1.0] if ATTACKS.get(attack).minimum_norm else sorted(eps_grid)
            standing = torch.ones(xs[i].shape[0], dtype=torch.bool)
            cascade = config.cascade_eps and not ATTACKS.get(attack).minimum_norm
            chains.append(_Chain(i, attack, seeds[i], grid, standing, cascade))
    if not chains:
        return acc, attack_cpu, stages
    pool = spawn_pool(workers, _worker_context, (list(models), xs, ys, num_classes, config), threads=1)
    owner: dict[Future, _Chain] = {}

    def submit(chain: _Chain, eps: float, left: Tensor) -> None:
        for group in shard_pieces(left.numel(), workers, config.batch_size, config.forward_chunk):
            pieces = [(s, left[s:e]) for s, e in group]
            fut = pool.submit(_attack_job, chain.m, chain.attack, eps, chain.seed, pieces)
            chain.pending[fut] = (eps, torch.cat([left[s:e] for s, e in group]))
            owner[fut] = chain

    def start(chain: _Chain) -> None:
        """Queue the chain's next ε (cascade: its survivors only), or every ε at once without the cascade."""
        todo = [chain.eps_left.pop(0)] if chain.cascade else [chain.eps_left.pop(0) for _ in list(chain.eps_left)]
        for eps in todo:
            left = chain.standing.nonzero(as_tuple=True)[0] if chain.cascade else torch.arange(chain.standing.numel())
            if left.numel():
                submit(chain, eps, left)
            else:
                chain.out[eps] = 0.0

    try:
        for chain in chains:
            start(chain)
        while owner:
            done, _ = wait(list(owner), return_when=FIRST_COMPLETED)
            for fut in done:
                chain = owner.pop(fut)
                eps, positions = chain.pending.pop(fut)
                res = fut.result()
                attack_cpu[chain.attack] = attack_cpu.get(chain.attack, 0.0) + res["cpu"]
                for k, v in res["stages"].items():
                    st = stages.setdefault(chain.attack, {})
                    st[k] = st.get(k, 0.0) + v
                chain.parts.append((positions, res | {"eps": eps}))
                if any(e == eps for e, _ in chain.pending.values()):
                    continue  # other shards of this step still out
                _finish_step(chain, eps, n, eps_grid)
                while chain.eps_left and not chain.pending:  # the next ε (again when none is left standing)
                    start(chain)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for chain in chains:
        out = chain.out
        if ATTACKS.get(chain.attack).minimum_norm:
            acc[chain.m][chain.attack] = out
        else:
            acc[chain.m][chain.attack] = {eps: out[eps] for eps in eps_grid}
    return acc, attack_cpu, stages


def _finish_step(chain: _Chain, eps: float, n: int, eps_grid: Sequence[float]) -> None:
    """Fold the returned shards of the chain's step at ``eps`` into its standing images and accuracies."""
    parts = [(pos, r) for pos, r in chain.parts if r["eps"] == eps]
    chain.parts = [(pos, r) for pos, r in chain.parts if r["eps"] != eps]
    if ATTACKS.get(chain.attack).minimum_norm:
        fooled = torch.zeros_like(chain.standing)
        dist = torch.zeros(chain.standing.shape[0])
        for pos, r in parts:
            fooled[pos] = ~r["correct"]
            dist[pos] = r["dist"].to(dist.dtype)
        for e in eps_grid:
            broken = fooled & (dist <= e + 1e-6)
            chain.out[e] = float((~broken).sum()) * 100.0 / n
        return
    if chain.cascade:
        for pos, r in parts:
            chain.standing[pos] = r["correct"]
        chain.out[eps] = float(chain.standing.sum()) * 100.0 / n
    else:
        hit = torch.zeros_like(chain.standing)
        for pos, r in parts:
            hit[pos] = r["correct"]
        chain.out[eps] = float(hit.sum()) * 100.0 / n
