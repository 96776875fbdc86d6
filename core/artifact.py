"""Condensed sets on disk: a folder with ``tensors.safetensors`` and ``card.json``.

The card records what the tensors are and how they were made (method, hyper-parameters,
source data, budget, seed), how good they are (metrics, audits), what they cost and their
privacy guarantee, plus the versions that wrote them and the sha256 of the tensors file.
Loading validates the card, the checksum and every tensor's name, shape and dtype; only
safetensors and JSON are read, nothing is unpickled.

Example::

    save_artifact("runs/cora-gcond", {"x": x_syn, "y": y_syn, "adj": adj}, {
        "domain": "graph", "task": "node_classification", "method": "gcond",
        "config": asdict(cfg), "source": {"dataset": "cora"}, "budget": 35, "seed": 0,
    })
    art = load_artifact("runs/cora-gcond", domain="graph")
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor

from condensekit.core.atomic import check_file_target, check_parent_folders, check_writable, replace_dir, write_json

FORMAT = "condensekit-artifact"
FORMAT_VERSION = 1
TENSORS_FILE = "tensors.safetensors"
CARD_FILE = "card.json"

REQUIRED_KEYS: tuple[str, ...] = ("domain", "task", "method", "config", "source", "budget", "seed")
"""Card keys the caller must supply to :func:`save_artifact`."""

COMPUTED_KEYS: tuple[str, ...] = ("format", "format_version", "tensors", "sha256", "versions", "created")
"""Card keys :func:`save_artifact` fills in; :func:`update_card` refuses to change the first four."""

_FROZEN_KEYS = ("format", "format_version", "tensors", "sha256")
_MERGED_DICTS = ("metrics", "cost")


@dataclass
class Artifact:
    """A loaded condensed set.

    Attributes:
        tensors: name → CPU tensor, exactly as listed in the card.
        card: the parsed ``card.json``.
        path: the artifact folder.
    """

    tensors: dict[str, Tensor]
    card: dict[str, Any]
    path: Path

    @property
    def domain(self) -> str:
        return str(self.card["domain"])

    @property
    def method(self) -> str:
        return str(self.card["method"])


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def library_versions() -> dict[str, str]:
    """condensekit's version and those of torch, PyG, safetensors and Python, as every card records them."""

    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    versions: dict[str, str] = {"condensekit": dist("condensekit") or "unknown", "torch": torch.__version__}
    pyg = dist("torch_geometric") or dist("torch-geometric")
    if pyg is not None:
        versions["torch_geometric"] = pyg
    versions["safetensors"] = dist("safetensors") or "unknown"
    versions["python"] = platform.python_version()
    return versions


def _to_json(card: dict[str, Any], what: str) -> str:
    try:
        return json.dumps(card, indent=2) + "\n"
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} is not JSON-serialisable: {err}") from err


def _check_card_fields(card: dict[str, Any], where: str) -> None:
    """Check the caller-supplied part of a card (required keys and optional field types)."""
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise ValueError(f"{where} is missing required key(s) {missing}; required keys are {list(REQUIRED_KEYS)}")
    for key in ("domain", "task", "method"):
        if not isinstance(card[key], str) or not card[key]:
            raise ValueError(f"{where}: {key!r} must be a non-empty string, got {card[key]!r}")
    if not isinstance(card["config"], dict):
        raise ValueError(f"{where}: 'config' must be a dict, got {type(card['config']).__name__}")
    if not isinstance(card["source"], dict) or "dataset" not in card["source"]:
        raise ValueError(f"{where}: 'source' must be a dict with a 'dataset' key, got {card['source']!r}")
    for key in _MERGED_DICTS:
        if card.get(key) is not None and not isinstance(card[key], dict):
            raise ValueError(f"{where}: {key!r} must be a dict, got {type(card[key]).__name__}")
    privacy = card.get("privacy")
    if privacy is not None:
        if not isinstance(privacy, dict):
            raise ValueError(f"{where}: 'privacy' must be None or a dict, got {type(privacy).__name__}")
        lacking = [k for k in ("epsilon", "delta", "accountant") if k not in privacy]
        if lacking:
            raise ValueError(f"{where}: 'privacy' is missing {lacking}; it needs epsilon, delta and accountant")
    audits = card.get("audits")
    if audits is not None and (not isinstance(audits, list) or not all(isinstance(a, dict) for a in audits)):
        raise ValueError(f"{where}: 'audits' must be a list of dicts, got {audits!r}")


def _prepare_tensors(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    if not isinstance(tensors, dict) or not tensors:
        raise ValueError("Argument tensors must be a non-empty dict of name → torch.Tensor")
    out: dict[str, Tensor] = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Tensor names must be non-empty strings, got {name!r}")
        if not isinstance(t, Tensor):
            raise ValueError(f"Tensor {name!r} is a {type(t).__name__}, not a torch.Tensor")
        if t.layout != torch.strided:
            raise ValueError(f"Tensor {name!r} has layout {t.layout}; convert it with .to_dense() first")
        # clone: safetensors refuses tensors that share storage (views of one another).
        out[name] = t.detach().to("cpu").contiguous().clone()
    return out


def evaluation_json(artifact: str | os.PathLike[str], json_path: str | None) -> str:
    """Where an evaluate verb writes its JSON: ``json_path`` when given, else ``ARTIFACT.eval.json`` beside the
    artifact's folder."""
    return json_path or str(Path(artifact)) + ".eval.json"


def check_evaluation_targets(artifact: str | os.PathLike[str], json_path: str | None) -> None:
    """Refuse, before an evaluation (any domain's ``evaluate`` verb), the outputs it would write that cannot be
    written: the artifact's folder (its card is rewritten with the scores) and, when no ``--json`` is given, the
    default ``ARTIFACT.eval.json`` (the command line has checked a given one). Else the evaluation ran, then the
    write failed with a traceback."""
    check_writable(artifact, argument="artifact", inside=True)
    if not json_path:
        check_file_target(evaluation_json(artifact, None), argument="--json")


def check_artifact_target(path: str | os.PathLike[str], *, argument: str = "path") -> None:
    """Refuse a save target that holds something other than an artifact.

    :func:`save_artifact` swaps the whole target folder for the new artifact, so a folder given by
    mistake (an expert buffer, a data folder) would be deleted without a word. Valid targets: a
    path that does not exist, an empty folder, or an artifact folder (its ``card.json`` has
    ``format`` :data:`FORMAT`), which is replaced. A CLI calls this before condensing, so a bad
    ``--out`` fails before the work; :func:`save_artifact` calls it again before writing.

    Args:
        path: the artifact folder to be written.
        argument: the name of the caller's argument, for the error (``"out"`` for ``--out``).

    Raises:
        ValueError: ``path`` is a file, or a non-empty folder that is not an artifact, or its nearest existing
            folder cannot be written (a real write test: :func:`~condensekit.core.atomic.check_parent_folders`).
    """
    target = Path(path)
    check_parent_folders(target, argument=argument)
    valid = "pass a new path, an empty folder or an existing artifact folder (which is replaced)"
    if target.exists() and not target.is_dir():
        raise ValueError(
            f"Invalid value {str(target)!r} for argument {argument}: it is a file, and saving an artifact there "
            f"would replace it; {valid}"
        )
    if not target.is_dir() or not any(target.iterdir()):
        return
    try:
        is_artifact = json.loads((target / CARD_FILE).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        is_artifact = False
    if not is_artifact:
        raise ValueError(
            f"Invalid value {str(target)!r} for argument {argument}: the folder holds something other than a "
            f"condensed set (an expert buffer?) and saving would replace all of it; {valid}"
        )


def save_artifact(path: str | os.PathLike[str], tensors: dict[str, Tensor], card: dict[str, Any]) -> Path:
    """Write a condensed set to the folder ``path`` (replacing an artifact there, refusing anything else) and return it.

    The caller supplies :data:`REQUIRED_KEYS` (``domain``, ``task``, ``method``, ``config``
    dict, ``source`` dict with ``dataset``, ``budget``, ``seed``) and optionally ``metrics``
    (dict), ``cost`` (dict), ``privacy`` (``None`` or a dict with ``epsilon``, ``delta``,
    ``accountant``) and ``audits`` (list of dicts). This function adds ``format``,
    ``format_version``, ``tensors`` (name → shape and dtype), ``sha256`` (of the tensors file),
    ``versions`` and ``created`` (UTC, ISO 8601). Tensors are detached, moved to the CPU and
    made contiguous. The folder is built beside ``path`` and swapped in, so a killed write
    leaves the old artifact or the new one, never half of one.

    Args:
        path: the artifact folder.
        tensors: name → tensor (the synthetic features, labels, adjacency, ...).
        card: the caller's card fields; it is not modified.

    Raises:
        ValueError: a required card key is missing, a field has the wrong type, the card is
            not JSON-serialisable or a tensor is invalid; or ``path`` is a file or a non-empty
            folder that is not an artifact (:func:`check_artifact_target`), left as it was.
    """
    check_artifact_target(path)
    if not isinstance(card, dict):
        raise ValueError(f"Argument card must be a dict, got {type(card).__name__}")
    _check_card_fields(card, "card")
    prepared = _prepare_tensors(tensors)
    blob = safetensors.torch.save(prepared)

    full = copy.deepcopy(card)
    full.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        tensors={n: {"shape": list(t.shape), "dtype": _dtype_name(t.dtype)} for n, t in prepared.items()},
        sha256=hashlib.sha256(blob).hexdigest(),
        versions=library_versions(),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    full.setdefault("metrics", {})
    full.setdefault("cost", {})
    full.setdefault("privacy", None)
    full.setdefault("audits", [])
    text = _to_json(full, "card")

    def build(tmp: Path) -> None:
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; an artifact is meant to be shared
        for name, data in ((TENSORS_FILE, blob), (CARD_FILE, text.encode("utf-8"))):
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())

    target = Path(path)
    replace_dir(build, target)
    return target


def _read_card(folder: Path) -> dict[str, Any]:
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise FileNotFoundError(f"Artifact at {str(folder)!r} has no {CARD_FILE} (looked for {str(card_path)!r})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(card_path)!r} is not valid JSON: {err}") from err
    if not isinstance(card, dict):
        raise ValueError(f"{str(card_path)!r} must hold a JSON object, got {type(card).__name__}")
    if card.get("format") != FORMAT:
        raise ValueError(f"{str(card_path)!r} is not a condensekit artifact card (format={card.get('format')!r})")
    version = card.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = " (written by a newer condensekit?)" if newer else ""
        raise ValueError(
            f"{str(card_path)!r} has format_version {version!r}; this condensekit reads version {FORMAT_VERSION}{hint}"
        )
    _check_card_fields(card, str(card_path))
    specs = card.get("tensors")
    if not isinstance(specs, dict) or not all(
        isinstance(s, dict) and isinstance(s.get("shape"), list) and isinstance(s.get("dtype"), str)
        for s in specs.values()
    ):
        raise ValueError(f"{str(card_path)!r}: 'tensors' must map names to {{'shape': [...], 'dtype': str}}")
    if not isinstance(card.get("sha256"), str):
        raise ValueError(f"{str(card_path)!r} has no 'sha256' string")
    return card


def _check_domain(card: dict[str, Any], folder: Path, domain: str | None, purpose: str | None) -> None:
    if domain is None or card["domain"] == domain:
        return
    who = purpose or f"{domain} commands"
    verb = "needs" if purpose else "need"
    raise ValueError(
        f"artifact at {str(folder)!r} is a {card['domain']!r} artifact; {who} {verb} a {domain!r} artifact"
    )


def _check_task(card: dict[str, Any], folder: Path, task: str | None, purpose: str | None, hint: str) -> None:
    if task is None or card.get("task") == task:
        return
    who, article = purpose or "this command", "an" if task[0] in "aeiou" else "a"
    raise ValueError(
        f"artifact at {str(folder)!r} holds a {card.get('domain')!r} {card.get('task')!r} set; "
        f"{who} needs {article} {task!r} artifact{hint}"
    )


def load_artifact(
    path: str | os.PathLike[str],
    *,
    domain: str | None = None,
    purpose: str | None = None,
    task: str | None = None,
    hint: str = "",
) -> Artifact:
    """Load and validate the artifact folder ``path``.

    Checks, in order: the folder and both files exist; the card is JSON with the right
    ``format`` and ``format_version`` and the required keys; the card's ``domain`` is
    ``domain`` and its ``task`` is ``task`` (when given); the tensors file's sha256 matches the
    card; safetensors parses it; tensor names, shapes and dtypes equal the card's.

    Args:
        path: the artifact folder.
        domain: the domain the caller needs (``"graph"``); ``None`` accepts any.
        purpose: who needs it, for the domain and task errors (e.g. ``"`graph evaluate`"``).
        task: the task the caller needs (``"node_classification"``); ``None`` accepts any.
        hint: appended to the task error (e.g. where the other kind of artifact goes).

    Raises:
        FileNotFoundError: the folder, ``card.json`` or ``tensors.safetensors`` is missing.
        ValueError: the card or the tensors are invalid, or the domain differs.
    """
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"No artifact at {str(folder)!r}")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{str(folder)!r} is a file; an artifact is a folder holding {TENSORS_FILE} and {CARD_FILE}"
        )
    card = _read_card(folder)
    _check_domain(card, folder, domain, purpose)
    _check_task(card, folder, task, purpose, hint)

    tensors_path = folder / TENSORS_FILE
    if not tensors_path.is_file():
        raise FileNotFoundError(f"Artifact at {str(folder)!r} has no {TENSORS_FILE} (looked for {str(tensors_path)!r})")
    blob = tensors_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != card["sha256"]:
        raise ValueError(
            f"{str(tensors_path)!r} does not match its card (truncated or modified): "
            f"sha256 {digest[:16]}… ≠ card {str(card['sha256'])[:16]}…"
        )
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as err:  # safetensors raises its own SafetensorError and others
        raise ValueError(f"{str(tensors_path)!r} is not a valid safetensors file: {err}") from err

    specs: dict[str, dict[str, Any]] = card["tensors"]
    if set(tensors) != set(specs):
        raise ValueError(
            f"Artifact at {str(folder)!r}: the card lists tensors {sorted(specs)} but the file holds {sorted(tensors)}"
        )
    for name, t in tensors.items():
        want_shape, want_dtype = specs[name]["shape"], specs[name]["dtype"]
        if list(t.shape) != want_shape:
            raise ValueError(
                f"Artifact at {str(folder)!r}: tensor {name!r} has shape {list(t.shape)} but the card says {want_shape}"
            )
        if _dtype_name(t.dtype) != want_dtype:
            raise ValueError(
                f"Artifact at {str(folder)!r}: tensor {name!r} has dtype {_dtype_name(t.dtype)} "
                f"but the card says {want_dtype}"
            )
    return Artifact(tensors=tensors, card=card, path=folder)


def update_card(path: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Rewrite ``card.json`` of the artifact at ``path`` with ``fields`` merged in; return the new card.

    ``metrics`` and ``cost`` (dicts) are merged key by key into the existing ones; ``audits``
    (a list of dicts, or one dict) is appended; any other field replaces the old value. The
    artifact is validated before (checksum included) and the new card after; the card is
    written atomically. ``format``, ``format_version``, ``tensors`` and ``sha256`` describe
    the tensors file and cannot be changed here.

    Raises:
        ValueError: a frozen field is given, a merged field has the wrong type, or the new card
            is invalid; plus whatever :func:`load_artifact` raises.
    """
    frozen = [k for k in fields if k in _FROZEN_KEYS]
    if frozen:
        raise ValueError(f"update_card cannot change {frozen}: they describe the tensors file; save a new artifact")
    folder = Path(path)
    card = load_artifact(folder).card
    for key, value in fields.items():
        if key in _MERGED_DICTS and value is not None:
            if not isinstance(value, dict):
                raise ValueError(f"Argument {key} must be a dict, got {type(value).__name__}")
            merged = dict(card.get(key) or {})
            merged.update(value)
            card[key] = merged
        elif key == "audits" and value is not None:
            new = [value] if isinstance(value, dict) else value
            if not isinstance(new, list):
                raise ValueError(f"Argument audits must be a dict or a list of dicts, got {type(value).__name__}")
            card["audits"] = list(card.get("audits") or []) + list(new)
        else:
            card[key] = value
    _check_card_fields(card, f"updated card of {str(folder)!r}")
    _to_json(card, "updated card")  # fail before writing anything
    write_json(folder / CARD_FILE, card)
    return card


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def format_card(card: dict[str, Any]) -> str:
    """A readable multi-line summary of a card (what ``condensekit info PATH`` prints)."""
    lines = [
        f"method:   {card.get('method', '?')}",
        f"domain:   {card.get('domain', '?')} / {card.get('task', '?')}",
        f"source:   {_fmt(card.get('source', {}))}",
        f"budget:   {_fmt(card.get('budget'))}",
        f"seed:     {_fmt(card.get('seed'))}",
    ]
    if card.get("created"):
        lines.append(f"created:  {card['created']}")
    specs = card.get("tensors") or {}
    lines.append("tensors:")
    width = max((len(n) for n in specs), default=0)
    for name, spec in specs.items():
        shape = "×".join(str(d) for d in spec.get("shape", [])) or "scalar"
        lines.append(f"  {name:<{width}}  {shape}  {spec.get('dtype', '?')}")
    config = card.get("config") or {}
    if config:
        lines.append(f"config:   {_fmt(config)}")
    metrics = card.get("metrics") or {}
    lines.append("metrics:" + ("" if metrics else "  -"))
    for key, value in metrics.items():
        lines.append(f"  {key}: {_fmt(value)}")
    if card.get("steps"):
        lines.append(f"steps:    {_fmt(card['steps'])}")
    cost = card.get("cost") or {}
    lines.append(f"cost:     {_fmt(cost) if cost else '-'}")
    privacy = card.get("privacy")
    if privacy:
        extra = {k: v for k, v in privacy.items() if k not in ("epsilon", "delta", "accountant")}
        tail = f" ({_fmt(extra)})" if extra else ""
        lines.append(
            f"privacy:  (ε={_fmt(privacy.get('epsilon'))}, δ={_fmt(privacy.get('delta'))})-DP, "
            f"accountant {privacy.get('accountant')}{tail}"
        )
    else:
        lines.append("privacy:  none")
    audits = card.get("audits") or []
    if audits:
        lines.append("audits:")
        for audit in audits:
            lines.append(f"  - {_fmt(audit)}")
    lines.append(f"versions: {_fmt(card.get('versions') or {})}")
    return "\n".join(lines)
