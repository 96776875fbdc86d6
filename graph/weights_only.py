"""``weights_only_pyg``: torch_geometric's processed files read with ``torch.load(weights_only=True)`` only.

torch_geometric reads a dataset's ``processed/data.pt`` with ``torch.load(weights_only=True)``, but when the file
holds a global outside torch's allow-list it warns ("Weights only load failed") and **loads it again with
``weights_only=False``** (``torch_geometric.io.fs.torch_load``, 2.5-2.8); and it reads ``processed/pre_transform.pt``
and ``pre_filter.pt`` with ``weights_only=False`` at every construction (``Dataset._process``). A tampered or
foreign file in the processed cache would be unpickled, and could run any code. :func:`weights_only_pyg` first
reads those two files itself with ``weights_only=True`` (they hold a short string), and inside it the warning is
an error, raised before the second load: nothing is unpickled, and the error says which folder to delete.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = ["weights_only_pyg"]

#: The start of torch_geometric's warning before its ``weights_only=False`` retry.
FALLBACK_WARNING = "Weights only load failed"


@contextmanager
def weights_only_pyg(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Run a torch_geometric dataset constructor rooted at ``folder`` without its unsafe ``torch.load`` retry.

    Raises:
        ValueError: a processed file needs ``weights_only=False``; it names ``folder`` and the fix (delete its
            ``processed/`` folder, which is rebuilt from the raw files).
    """
    for path in sorted(Path(folder).rglob("processed/pre_*.pt")):  # read by torch_geometric unrestricted
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # UnpicklingError, or whatever a foreign file raises
            raise _refused(folder) from err
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=FALLBACK_WARNING, category=UserWarning)
        try:
            yield
        except UserWarning as err:
            if not str(err).startswith(FALLBACK_WARNING):
                raise
            raise _refused(folder) from err


def _refused(folder: str | os.PathLike[str]) -> ValueError:
    return ValueError(
        f"a processed file of the dataset under {str(folder)!r} holds objects torch.load(weights_only=True) "
        "refuses, so it was not written by torch_geometric from the raw files (tampered or foreign); it was "
        f"not unpickled. Delete the 'processed' folder under {str(folder)!r} to rebuild it from the raw files"
    )
