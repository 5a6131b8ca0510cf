"""Width-scaled BERT students, trained as R replicas of one shape in a single vectorised pass.

Why: the search trains every candidate under every θ of Θ (learning rate x batch size) and, for
seed noise, under several seeds. Those R students share one shape, so their weights are stacked
on a leading replica axis and every layer runs as one batched matmul: Python and kernel-launch
overhead is paid once, not R times (`benchmarks/theta_cost.py` measures |Θ| = 3 against 1).
The encoder is transformers' post-LN BERT (exact GELU, absolute positions, one token type);
`tests/test_student.py` checks it against `BertModel` with the same weights. All weights live in
`[R, *size]` tensors; `ReplicaAdamW` is torch's AdamW update with a learning rate per replica
(`torch.optim.AdamW` has one per parameter group, and a group cannot hold a slice of a tensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

LAYER_NORM_EPS = 1e-5  # Bort's (transformers' Bort config)


@dataclass(frozen=True)
class StudentShape:
    """The trained student: depth, heads, (scaled) hidden and intermediate, vocabulary, output."""

    depth: int
    heads: int
    hidden: int
    intermediate: int
    vocab_size: int
    max_positions: int
    #: Output width of the regression head (embedding mode); 0 for a masked-LM head.
    target_dim: int = 0

    def layout(self) -> list[tuple[str, tuple[int, ...]]]:
        """Name and shape of every tensor, in the order of the flat weight vector."""
        h, i = self.hidden, self.intermediate
        entries: list[tuple[str, tuple[int, ...]]] = [
            ("word", (self.vocab_size, h)),
            ("position", (self.max_positions, h)),
            ("token_type", (h,)),
            ("embed_ln_w", (h,)),
            ("embed_ln_b", (h,)),
        ]
        for layer in range(self.depth):
            entries += [
                (f"{layer}.qkv_w", (h, 3 * h)),
                (f"{layer}.qkv_b", (3 * h,)),
                (f"{layer}.out_w", (h, h)),
                (f"{layer}.out_b", (h,)),
                (f"{layer}.ln1_w", (h,)),
                (f"{layer}.ln1_b", (h,)),
                (f"{layer}.ff1_w", (h, i)),
                (f"{layer}.ff1_b", (i,)),
                (f"{layer}.ff2_w", (i, h)),
                (f"{layer}.ff2_b", (h,)),
                (f"{layer}.ln2_w", (h,)),
                (f"{layer}.ln2_b", (h,)),
            ]
        if self.target_dim:
            entries += [("head_w", (h, self.target_dim)), ("head_b", (self.target_dim,))]
        else:  # BertForMaskedLM's head: dense + GELU + LayerNorm, decoder tied to `word`
            entries += [
                ("mlm_w", (h, h)),
                ("mlm_b", (h,)),
                ("mlm_ln_w", (h,)),
                ("mlm_ln_b", (h,)),
                ("mlm_bias", (self.vocab_size,)),
            ]
        return entries


def initial_weights(
    shape: StudentShape,
    seeds: list[int],
    *,
    initializer_range: float = 0.02,
    pad_id: int | None = None,
    device: str = "cpu",
) -> dict[str, torch.Tensor]:
    """The weights of R students, one `[R, *size]` tensor per name; replica r from `seeds[r]`.

    BERT's init (`BertPreTrainedModel._init_weights`): matrices and embeddings ~ N(0,
    initializer_range), biases 0, LayerNorm weights 1, the padding row 0. Equal seeds give equal
    replicas, whatever else shares the pass.
    """
    import torch

    per_replica: list[list[torch.Tensor]] = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        parts = []
        for name, size in shape.layout():
            leaf = name.rsplit(".", 1)[-1]
            if leaf.endswith("ln_w") or leaf in ("ln1_w", "ln2_w"):
                part = torch.ones(size)
            elif leaf.endswith("_b") or leaf == "mlm_bias":
                part = torch.zeros(size)
            else:
                part = torch.randn(size, generator=generator) * initializer_range
                if name == "word" and pad_id is not None:
                    part[pad_id] = 0.0
            parts.append(part)
        per_replica.append(parts)
    return {
        name: torch.stack([parts[k] for parts in per_replica]).to(device)
        for k, (name, _) in enumerate(shape.layout())
    }


def _layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last axis with per-replica affine weights ([R, H]); x is [R, ..., H]."""
    import torch.nn.functional as F

    expand = (slice(None),) + (None,) * (x.dim() - 2) + (slice(None),)
    return F.layer_norm(x, x.shape[-1:], eps=LAYER_NORM_EPS) * weight[expand] + bias[expand]


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x [R, ..., in] @ weight [R, in, out] + bias [R, out], as one batched matmul."""
    import torch

    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = torch.baddbmm(bias.unsqueeze(1), flat, weight)
    return out.reshape(*x.shape[:-1], weight.shape[-1])


def encode(
    shape: StudentShape, w: dict[str, torch.Tensor], ids: torch.Tensor, attention: torch.Tensor
) -> torch.Tensor:
    """Last hidden states [R, B, L, H] of R students for ids/attention [R, B, L]."""
    import torch
    import torch.nn.functional as F

    replicas, batch, length = ids.shape
    vocab = shape.vocab_size
    offsets = (torch.arange(replicas, device=ids.device) * vocab).view(replicas, 1, 1)
    x = F.embedding(ids + offsets, w["word"].reshape(replicas * vocab, -1))
    x = x + w["position"][:, :length].unsqueeze(1) + w["token_type"][:, None, None, :]
    x = _layer_norm(x, w["embed_ln_w"], w["embed_ln_b"])
    heads, head_size = shape.heads, shape.hidden // shape.heads
    # Padded keys get no attention: an additive mask broadcast over heads and queries (explicit
    # softmax attention, as BertModel's eager path; SDPA's mask checks cost more at these sizes).
    mask = (1.0 - attention.to(x.dtype))[:, :, None, None, :] * torch.finfo(x.dtype).min
    scale = 1.0 / math.sqrt(head_size)
    for layer in range(shape.depth):
        p = f"{layer}."
        qkv = _linear(x, w[p + "qkv_w"], w[p + "qkv_b"])
        qkv = qkv.view(replicas, batch, length, 3, heads, head_size).permute(3, 0, 1, 4, 2, 5)
        scores = torch.matmul(qkv[0], qkv[1].transpose(-1, -2)) * scale + mask
        context = torch.matmul(scores.softmax(-1), qkv[2])
        context = context.transpose(2, 3).reshape(replicas, batch, length, shape.hidden)
        x = _layer_norm(
            x + _linear(context, w[p + "out_w"], w[p + "out_b"]), w[p + "ln1_w"], w[p + "ln1_b"]
        )
        inner = F.gelu(_linear(x, w[p + "ff1_w"], w[p + "ff1_b"]))
        x = _layer_norm(
            x + _linear(inner, w[p + "ff2_w"], w[p + "ff2_b"]), w[p + "ln2_w"], w[p + "ln2_b"]
        )
    return x


def pooled_prediction(
    shape: StudentShape, w: dict[str, torch.Tensor], ids: torch.Tensor, attention: torch.Tensor
) -> torch.Tensor:
    """Embedding mode: mean of the unpadded hidden states through the linear head, [R, B, T]."""
    hidden = encode(shape, w, ids, attention)
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(2) / weights.sum(2)
    return _linear(pooled, w["head_w"], w["head_b"])


def masked_lm_logits(
    shape: StudentShape, w: dict[str, torch.Tensor], hidden: torch.Tensor
) -> torch.Tensor:
    """BertForMaskedLM's head on hidden states [R, M, H]: logits [R, M, V], decoder tied."""
    import torch
    import torch.nn.functional as F

    transformed = _layer_norm(
        F.gelu(_linear(hidden, w["mlm_w"], w["mlm_b"])), w["mlm_ln_w"], w["mlm_ln_b"]
    )
    return torch.baddbmm(w["mlm_bias"].unsqueeze(1), transformed, w["word"].transpose(1, 2))


class ReplicaAdamW:
    """torch's fused AdamW, run once per replica on that replica's slices, with its own rate.

    Why not `torch.optim.AdamW`: it takes one learning rate per parameter group, and a group
    cannot hold a slice of a tensor. Its functional form (`torch.optim.adamw.adamw`) can, and the
    slices `weight[r]` of a `[R, *size]` tensor are contiguous, so each replica is updated by
    torch's own fused kernel. One replica matches `torch.optim.AdamW` exactly (tested).
    """

    def __init__(
        self,
        weights: list[torch.Tensor],
        *,
        learning_rates: list[float],
        weight_decays: list[float],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        import torch

        self.weights = weights
        self.learning_rates, self.weight_decays = learning_rates, weight_decays
        self.betas, self.eps = betas, eps
        self.exp_avg = [torch.zeros_like(w) for w in weights]
        self.exp_avg_sq = [torch.zeros_like(w) for w in weights]
        self.fused = weights[0].device.type in ("cpu", "cuda")
        self.state_steps = [
            [torch.zeros((), dtype=torch.float32, device=w.device) for w in weights]
            for _ in learning_rates
        ]

    def step(self, factors: list[float]) -> None:
        """One update; replica r uses learning rate `learning_rates[r] * factors[r]`."""
        import torch
        from torch.optim.adamw import adamw

        with torch.no_grad():
            for r, (rate, decay, factor) in enumerate(
                zip(self.learning_rates, self.weight_decays, factors, strict=True)
            ):
                adamw(
                    [w[r] for w in self.weights],
                    [w.grad[r] for w in self.weights],
                    [m[r] for m in self.exp_avg],
                    [v[r] for v in self.exp_avg_sq],
                    [],
                    self.state_steps[r],
                    fused=self.fused,
                    amsgrad=False,
                    beta1=self.betas[0],
                    beta2=self.betas[1],
                    lr=rate * factor,
                    weight_decay=decay,
                    eps=self.eps,
                    maximize=False,
                )
