"""``CheckedResume``: a graph method whose checkpoints record the run's setting, and refuse another one.

The engine (:func:`condensekit.core.engine.run`) checks a checkpoint's method name, seed and steps before it
resumes, not the data, the budget or the method's config. A checkpoint of another setting then either
resumed silently (a run with another ``--lr-feat`` returned the saved set under a card that names the new
rate, and Adam's restored state kept the old rate) or failed in a tensor copy (another budget). A method
built on this class adds its :meth:`CheckedResume.setting` to every checkpoint and checks it on resume;
a checkpoint written before settings were recorded is taken as it is.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from condensekit.core.engine import CondensationMethod

__all__ = ["CheckedResume"]


class CheckedResume(CondensationMethod):
    """Checkpoints carry ``setting()`` (JSON); resuming one whose setting differs raises ``ValueError``."""

    config: Any

    def data_setting(self) -> dict[str, Any]:
        """The real data and budget of this run (a subclass names them)."""
        return {}

    def setting(self) -> dict[str, Any]:
        """What a checkpoint must have been written with to be resumed: :meth:`data_setting` and the config."""
        cfg = dataclasses.asdict(self.config) if dataclasses.is_dataclass(self.config) else {}
        return json.loads(json.dumps(self.data_setting() | cfg, default=str))

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"setting": json.dumps(self.setting(), sort_keys=True)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "setting" in state:
            saved, mine = json.loads(state["setting"]), self.setting()
            diff = [k for k in sorted(set(saved) | set(mine)) if saved.get(k) != mine.get(k)]
            if diff:
                was = ", ".join(f"{k}={saved.get(k)!r}" for k in diff)
                now = ", ".join(f"{k}={mine.get(k)!r}" for k in diff)
                raise ValueError(
                    f"checkpoint of {self.name!r} was written by a run with {was}, this run has {now}; resume with "
                    "the same settings, or delete the checkpoint or pass another path"
                )
        super().load_state_dict(state)
