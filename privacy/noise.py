r"""The randomness a differentially private mechanism spends: drawn from a seed nobody can read back.

A Gaussian mechanism is private only while its noise is unknown to the adversary. The engine seeds Python,
NumPy and torch with the run's ``seed`` (recorded in every card, 0 by default) so that runs reproduce; noise
drawn from that global generator is a published function of the seed, and whoever re-runs the code with it
regenerates the noise exactly and subtracts it: the release becomes a deterministic function of the data and
its ε is infinite. The same holds for DP-SGD's Poisson sample: the amplification by subsampling assumes the
batch is secret. Every privacy-critical draw (the DP-MERF embedding's noise, PSG's Poisson batches and
gradient noise) therefore comes from :func:`secret_generator`, seeded from the operating system's entropy and
never recorded, while everything that may be public (random-feature frequencies, network initialisations,
synthetic-set initialisation) stays on the seeded generators.

Consequences: two runs with the same ``seed`` release different sets (equal in distribution only), and a
resumed private run is private but not bit-for-bit (the secret generator is not checkpointed: a checkpoint
holding its state would let its reader regenerate the noise). The generator is torch's (Mersenne Twister on
the CPU, Philox on CUDA) seeded with 63 random bits: secret, but not a cryptographically secure generator and
not hardened against floating-point attacks on the Gaussian sampler (Mironov, CCS 2012); opacus's
``secure_mode`` (torchcsprng) addresses both and is not used here.
"""

from __future__ import annotations

import secrets

import torch

__all__ = ["NOISE_SOURCE", "secret_generator"]

#: What a card's privacy record says about the noise's source.
NOISE_SOURCE = "secret: torch generator seeded from OS entropy (not the run's seed, not recorded)"


def secret_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with 63 bits from :mod:`secrets` (the operating system's entropy)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(secrets.randbits(63))
    return gen
