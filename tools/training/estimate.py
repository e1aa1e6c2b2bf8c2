"""GPU memory needed to fine-tune a model, estimated before anything is loaded.

All sizes are in GB of 2**30 bytes (what nvidia-smi and torch.cuda report as "GB"). P = parameters.

    weights      qlora: linear layers in 4-bit NF4 = 0.5 byte/P + quantisation constants (one fp32 absmax per
                 64 weights = 0.5 bit/P; with double quant 8-bit absmax + fp32 per 256 blocks ≈ 0.127 bit/P);
                 embeddings, lm_head and norms stay 16-bit (2 bytes/P).
                 lora / full: 2 bytes/P (bf16/fp16).
    adapters     lora/qlora: r × (d_in + d_out) per targeted linear (all-linear: q,k,v,o,gate,up,down in every
                 layer), fp32 = 4 bytes/P.
    optimizer    AdamW keeps 2 fp32 states: 8 bytes per trainable P; full fine-tuning (mixed precision) also
                 keeps an fp32 master copy: 12 bytes/P.
    gradients    lora/qlora: fp32 grads of the adapters (4 bytes/P); full: 16-bit grads of all P (2 bytes/P).
    activations  per layer per token (16-bit, memory-efficient attention; Korthikanti et al. 2022): 34·h B;
                 with gradient checkpointing only each layer's input is kept (2·h bytes/layer/token) plus one
                 layer being recomputed (34·h); plus the logits, upcast to fp32 with their gradient (8·V bytes
                 per token). Multiplied by batch_size × seq_len.
    overhead     CUDA context, cuBLAS workspace and allocator fragmentation: 0.75 GB + 8 % of the rest.

Without an explicit architecture, a Llama-like one is derived from the parameter count (layers ≈ hidden/128,
intermediate ≈ 2.7 × hidden, vocabulary 32,000), which reproduces Llama-2 7B/13B shapes within a few percent.
Checked against LLaMA-Factory's hardware table and the QLoRA paper in tests/test_estimate.py.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from tools.errors import UserError

GB = 1024**3
METHODS = ("qlora", "lora", "full")
NF4_BYTES_PER_PARAM = 0.5
QUANT_CONSTANT_BITS = {True: 0.127, False: 0.5}  # per parameter, with/without double quantisation
ACTIVATION_BYTES_PER_HIDDEN = 34  # per token per layer, 16-bit, without the attention-score term
OVERHEAD_FIXED_GB = 0.75
OVERHEAD_FRACTION = 0.08
_PARAM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_SCALE_TO_B = {"": 1.0, "b": 1.0, "m": 1e-3, "k": 1e-6, "t": 1e3}


@dataclass
class ModelArch:
    """The shapes that decide memory: enough of a transformer config to count every linear layer."""

    hidden_size: int
    num_layers: int
    intermediate_size: int
    vocab_size: int = 32000
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    tie_word_embeddings: bool = False

    @property
    def kv_dim(self) -> int:
        """Output width of k_proj/v_proj (smaller than hidden with grouped-query attention)."""
        if self.num_attention_heads and self.num_key_value_heads:
            return self.hidden_size * self.num_key_value_heads // self.num_attention_heads
        return self.hidden_size

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(d_in, d_out) of every linear in one decoder layer, as peft's all-linear targets them."""
        h, i, kv = self.hidden_size, self.intermediate_size, self.kv_dim
        return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]

    def layer_linear_params(self) -> int:
        return sum(d_in * d_out for d_in, d_out in self.linear_shapes())

    def embedding_params(self) -> int:
        """Input embeddings + lm_head (+ norms): the parts that 4-bit loading keeps in 16-bit."""
        heads = 1 if self.tie_word_embeddings else 2
        return heads * self.vocab_size * self.hidden_size + (2 * self.num_layers + 1) * self.hidden_size

    def total_params(self) -> int:
        return self.num_layers * self.layer_linear_params() + self.embedding_params()

    def lora_params(self, rank: int) -> int:
        return self.num_layers * sum(rank * (d_in + d_out) for d_in, d_out in self.linear_shapes())


@dataclass
class MemoryEstimate:
    """Estimated peak GPU memory of one training step; fits is None when no GPU size was given."""

    total_gb: float
    breakdown: dict[str, float]
    fits: bool | None
    advice: list[str] = field(default_factory=list)
    params_b: float = 0.0
    trainable_params_m: float = 0.0
    method: str = "qlora"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_params(text: str | float) -> float:
    """'7B' / '0.5B' / '1.5b' / '350M' / 7 → parameters in billions."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _PARAM_RE.match(str(text))
        if not match:
            raise UserError(
                f"cannot read the model size {text!r}: write a number of parameters with a unit, "
                "e.g. 7B, 1.5B, 0.5B or 350M"
            )
        value = float(match.group(1)) * _SCALE_TO_B[match.group(2).lower()]
    if value <= 0:
        raise UserError(f"model size must be positive, got {text!r}: e.g. 7B or 350M")
    return value


def llama_like_arch(params_b: float, vocab_size: int = 32000) -> ModelArch:
    """A Llama-shaped architecture with about params_b billion parameters (layers ≈ hidden/128)."""
    target = params_b * 1e9

    def arch_for(hidden: int) -> ModelArch:
        layers = max(1, round(hidden / 128))
        return ModelArch(hidden, layers, _round_to(int(hidden * 2.6875), 256), vocab_size)

    low, high = 64, 65536
    while high - low > 1:  # total params grow monotonically with hidden size
        mid = (low + high) // 2
        if arch_for(mid).total_params() < target:
            low = mid
        else:
            high = mid
    hidden = _round_to(high, 256)
    base = arch_for(hidden)
    per_layer = base.layer_linear_params() + 2 * hidden
    layers = max(1, round((target - base.embedding_params()) / per_layer))  # hit the count with the layers
    return ModelArch(hidden, layers, base.intermediate_size, vocab_size)


def _round_to(value: int, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def estimate_training_memory(
    params_b: float,
    method: str,
    seq_len: int = 1024,
    batch_size: int = 1,
    lora_r: int = 16,
    gradient_checkpointing: bool = True,
    gpu_gb: float | None = None,
    double_quant: bool = True,
    **arch,
) -> MemoryEstimate:
    """Peak memory of fine-tuning a params_b-billion model; arch keys are ModelArch fields (optional)."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    for name, value in (("params", params_b), ("seq_len", seq_len), ("batch_size", batch_size)):
        if value is None or value <= 0:
            raise UserError(f"{name} must be positive, got {value!r}")
    if method != "full" and lora_r <= 0:
        raise UserError(f"lora_r must be a positive rank (e.g. 8, 16, 64), got {lora_r}")
    model = _arch_from(params_b, arch)
    total_p = params_b * 1e9
    # Scale the derived shapes' split into linear vs embedding parameters to the stated total.
    embed_p = min(model.embedding_params(), total_p)
    linear_p = total_p - embed_p

    if method == "qlora":
        quant_bytes = NF4_BYTES_PER_PARAM + QUANT_CONSTANT_BITS[double_quant] / 8
        weights = linear_p * quant_bytes + embed_p * 2
    else:
        weights = total_p * 2
    if method == "full":
        trainable = total_p
        adapters, optimizer, gradients = 0.0, trainable * 12, trainable * 2
    else:
        trainable = model.lora_params(lora_r)
        adapters, optimizer, gradients = trainable * 4, trainable * 8, trainable * 4

    tokens = seq_len * batch_size
    per_layer = ACTIVATION_BYTES_PER_HIDDEN * model.hidden_size * tokens
    if gradient_checkpointing:
        hidden_states = model.num_layers * 2 * model.hidden_size * tokens + per_layer
    else:
        hidden_states = model.num_layers * per_layer
    activations = hidden_states + 8 * model.vocab_size * tokens

    parts = {
        "weights": weights,
        "adapters": adapters,
        "optimizer": optimizer,
        "gradients": gradients,
        "activations": activations,
    }
    subtotal = sum(parts.values())
    parts["overhead"] = OVERHEAD_FIXED_GB * GB + OVERHEAD_FRACTION * subtotal
    breakdown = {name: round(value / GB, 3) for name, value in parts.items()}
    total_gb = round(sum(parts.values()) / GB, 2)
    fits = None if gpu_gb is None else total_gb <= gpu_gb
    estimate = MemoryEstimate(total_gb, breakdown, fits, [], params_b, round(trainable / 1e6, 2), method)
    estimate.advice = advise(estimate, seq_len, batch_size, lora_r, gradient_checkpointing, gpu_gb)
    return estimate


def _arch_from(params_b: float, arch: dict) -> ModelArch:
    """The caller's architecture when complete, else a Llama-like one derived from the size."""
    known = {k: v for k, v in arch.items() if k in ModelArch.__dataclass_fields__ and v is not None}
    unknown = set(arch) - set(ModelArch.__dataclass_fields__)
    if unknown:
        raise UserError(
            f"unknown architecture fields {sorted(unknown)}: use {list(ModelArch.__dataclass_fields__)}"
        )
    if {"hidden_size", "num_layers", "intermediate_size"} <= known.keys():
        return ModelArch(**known)
    derived = llama_like_arch(params_b, known.get("vocab_size", 32000))
    return ModelArch(**{**asdict(derived), **known})


def advise(
    estimate: MemoryEstimate,
    seq_len: int,
    batch_size: int,
    lora_r: int,
    gradient_checkpointing: bool,
    gpu_gb: float | None,
) -> list[str]:
    """What to lower, biggest saving first, when the estimate does not fit (or barely fits) the GPU."""
    if gpu_gb is None:
        return []
    if estimate.total_gb <= 0.85 * gpu_gb:
        return [f"fits with {gpu_gb - estimate.total_gb:.1f} GB to spare"]
    tips = []
    if estimate.method == "full":
        tips.append(
            "use LoRA or QLoRA instead of full fine-tuning: optimizer states shrink to a few hundred MB"
        )
    if estimate.method == "lora":
        tips.append("use QLoRA (4-bit base): the frozen weights take about a quarter of the memory")
    if not gradient_checkpointing:
        tips.append("turn gradient checkpointing on: activations shrink a lot for ~30 % slower steps")
    if batch_size > 1:
        tips.append(f"lower batch_size ({batch_size} → 1) and raise grad_accum to keep the effective batch")
    if seq_len > 512:
        tips.append(
            f"lower max_seq_len ({seq_len} → {seq_len // 2}) if your samples are shorter "
            "(preflight measures them)"
        )
    if estimate.method != "full" and lora_r > 8:
        tips.append(f"lower lora_r ({lora_r} → 8): fewer adapter parameters and optimizer states")
    tips.append(
        f"pick a smaller base model (e.g. {estimate.params_b / 2:.3g}B instead of {estimate.params_b:.3g}B)"
    )
    if estimate.fits:
        tips.insert(
            0,
            f"fits, but with under 15 % headroom ({estimate.total_gb:.1f} of {gpu_gb:g} GB): "
            "memory spikes may still cause out-of-memory",
        )
    return tips
