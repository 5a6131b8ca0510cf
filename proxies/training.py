"""What one student's training is: a θ of Θ, the defaults, the width scaling, the device rule.

Why its own module: the search's configuration, the error proxy and the replica trainer all speak
of θ and of the student's width; one home keeps them from drifting apart.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bortnas.core.errors import BortnasError
from bortnas.core.theta import Hyperparameters

if TYPE_CHECKING:
    from bortnas.core.architecture import Architecture

VERSION = 3
EVAL_MASK_SEED = 1234
SCHEDULES = ("linear", "constant")
#: What the student's held-out error is: "distillation" (the default: the teacher's embedding,
#: or its logits when it has a masked-LM head with the student's vocabulary; plain masked LM
#: with teacher "none") or "mlm" (plain masked-LM loss, no teacher: the loss pretraining
#: optimises). The masked-LM head runs on the masked positions only.
ERROR_LOSSES = ("distillation", "mlm")

DEFAULT_STEPS = 100
DEFAULT_BATCH_SIZE = 16
DEFAULT_SEQUENCE_LENGTH = 16
DEFAULT_WIDTH_SCALE = 16
DEFAULT_EVAL_SIZE = 128
DEFAULT_TARGET_COMPONENTS = 16
TARGET_FIT_DOCS = 2048


class ProxySettingError(BortnasError, ValueError):
    """An error-proxy knob out of range (a user mistake: the CLI prints one line)."""


#: The search's default Θ: deep post-LN students need the smaller rate, shallow ones the larger.
#: 3e-4 (version 3's third rate) never won at 100 steps, nor 1e-2 when tried: docs/error-proxy.md.
DEFAULT_THETA: tuple[Hyperparameters, ...] = tuple(
    Hyperparameters(learning_rate=rate) for rate in (1e-3, 3e-3)
)


def check_error_loss(error_loss: str, teacher: object) -> str:
    """The `error_loss` knob, checked: one of `ERROR_LOSSES`; "mlm" takes no teacher."""
    if error_loss not in ERROR_LOSSES:
        raise ProxySettingError(f"error loss must be one of {ERROR_LOSSES}, got {error_loss!r}")
    if error_loss == "mlm" and teacher is not None and str(teacher).lower() != "none":
        raise ProxySettingError("the mlm error loss trains without a teacher: leave it out")
    return error_loss


def scaled_width(architecture: Architecture, width_scale: float) -> tuple[int, int]:
    """(H', I') of the width-scaled student: D and A kept, H' = ceil(H/w/A)·A, I' = round(I/w).

    No head-size floor: a floor merged the A = 16 students of H 512, 768 and 1024 into one.
    """
    heads = architecture.heads
    head = math.ceil(architecture.hidden / width_scale / heads)
    return head * heads, max(1, round(architecture.intermediate / width_scale))
