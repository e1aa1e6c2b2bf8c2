"""Memory needed to fine-tune a model, estimated before anything is loaded: the one home of that rule.

Preflight (`check_memory`) and `tunesmith estimate` both call `estimate_for_model` (a model's config, the heaviest
batch its data can make, this machine) or, for a model given by size only, `estimate_training_memory`.

All sizes are in GB of 2**30 bytes (what nvidia-smi, torch.cuda and free -g report as "GB"). P = parameters.
The device decides the number format: a GPU computes in 16-bit, a CPU in float32 (bf16 is emulated there), and
on a CPU the figure is the trainer process's peak resident memory (RSS).

    weights      qlora: linear layers in 4-bit NF4 = 0.5 byte/P + quantisation constants (one fp32 absmax per
                 64 weights = 0.5 bit/P; with double quant 8-bit absmax + fp32 per 256 blocks ≈ 0.127 bit/P);
                 embeddings, lm_head and norms stay in the compute format.
                 lora / full: 2 bytes/P on a GPU (bf16/fp16), 4 bytes/P on a CPU (float32).
    adapters     lora/qlora: r × (d_in + d_out) per targeted linear (all-linear: q,k,v,o,gate,up,down in every
                 layer), fp32 = 4 bytes/P.
    optimizer    AdamW keeps 2 fp32 states: 8 bytes per trainable P; full fine-tuning in mixed precision also
                 keeps an fp32 master copy (12 bytes/P); on a CPU the weights are that copy (8 bytes/P).
    gradients    lora/qlora: fp32 grads of the adapters (4 bytes/P); full: grads in the weights' format.
    activations  per layer per token: 17 values per hidden unit (Korthikanti et al. 2022: 34·h bytes in 16-bit,
                 memory-efficient attention), 2 bytes each on a GPU, 4 on a CPU; with adapters, LoRA dropout's copy
                 of each targeted linear's input and its 1-byte mask (PEFT applies it per linear: q, k, v, o,
                 gate, up, down; the estimate assumes dropout, as the default); with gradient checkpointing only
                 each layer's input is kept (1 value per hidden unit) plus one layer being recomputed. They scale
                 with the tokens of one step's batch. The logits, with their softmax and gradient: 8 bytes per
                 vocabulary entry on a GPU (16-bit logits upcast to fp32), 16 on a CPU (fp32 logits, log-softmax,
                 two gradients), for each position whose logits are computed: every position of a padded batch,
                 only the answer positions in Tunesmith's packed batches (tools/training/train.py PackedBatch).
    overhead     GPU: CUDA context, cuBLAS workspace and allocator fragmentation, 0.75 GB + 8 % of the rest.
                 CPU: the Python process with torch, transformers, peft, datasets and the tokenizer, 0.7 GB
                 (0.52 GB measured after the imports), + 8 % of the rest for the allocator.

Without an explicit architecture, a Llama-like one is derived from the parameter count (layers ≈ hidden/128,
intermediate ≈ 2.7 × hidden, vocabulary 32,000), which reproduces Llama-2 7B/13B shapes within a few percent.
Checked against LLaMA-Factory's hardware table and the QLoRA paper in tests/test_estimate.py, and against the
measured peak RSS of the built-in model on a CPU in bench/bench_memory.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.errors import UserError

GB = 1024**3
FORMULA_METHODS = ("qlora", "lora", "full")  # the others are estimated as one of these (ESTIMATED_AS)
DEVICES = ("gpu", "cpu")
NF4_BYTES_PER_PARAM = 0.5
QUANT_CONSTANT_BITS = {True: 0.127, False: 0.5}  # per parameter, with/without double quantisation
BYTES_PER_VALUE = {"gpu": 2, "cpu": 4}  # compute format: 16-bit on a GPU, float32 on a CPU
ACTIVATION_VALUES_PER_HIDDEN = 17  # per token per layer (34·h bytes in 16-bit), without the attention scores
LOGIT_BYTES_PER_VOCAB = {"gpu": 8, "cpu": 16}  # per computed position: logits, softmax and gradients
OVERHEAD_FIXED_GB = {"gpu": 0.75, "cpu": 0.7}  # CUDA context + workspace / the Python process with its libraries
OVERHEAD_FRACTION = 0.08
HEADROOM = 0.85  # above this share of the device's memory, spikes may still run out
# Methods the estimate has no formula for, estimated as the nearest one that needs at least as much memory:
# virtual tokens train fewer weights than LoRA; freezing lower layers trains fewer than a full fine-tune.
ESTIMATED_AS = {"prompt_tuning": "lora", "p_tuning": "lora", "freeze": "full"}
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
    head_dim: int | None = None  # when it is not hidden / heads (gemma-3-270m: 4 heads of 256 on a hidden of 640)

    @property
    def q_dim(self) -> int:
        """Output width of q_proj (and input width of o_proj)."""
        if self.head_dim and self.num_attention_heads:
            return self.head_dim * self.num_attention_heads
        return self.hidden_size

    @property
    def kv_dim(self) -> int:
        """Output width of k_proj/v_proj (smaller than hidden with grouped-query attention)."""
        if self.head_dim and self.num_key_value_heads:
            return self.head_dim * self.num_key_value_heads
        if self.num_attention_heads and self.num_key_value_heads:
            return self.hidden_size * self.num_key_value_heads // self.num_attention_heads
        return self.hidden_size

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(d_in, d_out) of every linear in one decoder layer, as peft's all-linear targets them."""
        h, i, q, kv = self.hidden_size, self.intermediate_size, self.q_dim, self.kv_dim
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]

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
    """Estimated peak memory of one training step (GPU memory, or the process's RSS on a CPU); fits is None when
    no memory size was given to compare with."""

    total_gb: float
    breakdown: dict[str, float]
    fits: bool | None
    advice: list[str] = field(default_factory=list)
    params_b: float = 0.0
    trainable_params_m: float = 0.0
    method: str = "qlora"
    device: str = "gpu"
    tokens: int = 0  # in one step's batch
    logit_tokens: int = 0  # positions whose logits are computed

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
    device: str = "gpu",
    tokens: int | None = None,
    logit_tokens: int | None = None,
    **arch,
) -> MemoryEstimate:
    """Peak memory of fine-tuning a params_b-billion model on device ("gpu" or "cpu"); arch keys are ModelArch
    fields (optional). gpu_gb: the device's memory to check against (the RAM on a CPU). tokens: tokens in one
    step's batch (default seq_len × batch_size); logit_tokens: the positions whose logits are computed (default
    all of them)."""
    if method not in FORMULA_METHODS:
        raise UserError(f"unknown method {method!r}: choose one of {', '.join(FORMULA_METHODS)}")
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}: choose gpu or cpu")
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
    value_bytes = BYTES_PER_VALUE[device]

    if method == "qlora":
        quant_bytes = NF4_BYTES_PER_PARAM + QUANT_CONSTANT_BITS[double_quant] / 8
        weights = linear_p * quant_bytes + embed_p * value_bytes
    else:
        weights = total_p * value_bytes
    if method == "full":
        trainable = total_p
        master = 4 if value_bytes < 4 else 0  # mixed precision keeps an fp32 copy; float32 weights are that copy
        adapters, optimizer, gradients = 0.0, trainable * (8 + master), trainable * value_bytes
    else:
        trainable = model.lora_params(lora_r)
        adapters, optimizer, gradients = trainable * 4, trainable * 8, trainable * 4

    tokens = int(tokens) if tokens else seq_len * batch_size
    logit_tokens = tokens if logit_tokens is None else min(int(logit_tokens), tokens)
    per_layer = ACTIVATION_VALUES_PER_HIDDEN * model.hidden_size * value_bytes * tokens
    if method != "full":  # LoRA's dropout keeps its own copy of every targeted linear's input, and the mask
        per_layer += sum(d_in for d_in, _ in model.linear_shapes()) * (value_bytes + 1) * tokens
    if gradient_checkpointing:
        hidden_states = model.num_layers * model.hidden_size * value_bytes * tokens + per_layer
    else:
        hidden_states = model.num_layers * per_layer
    activations = hidden_states + LOGIT_BYTES_PER_VOCAB[device] * model.vocab_size * logit_tokens

    parts = {
        "weights": weights,
        "adapters": adapters,
        "optimizer": optimizer,
        "gradients": gradients,
        "activations": activations,
    }
    subtotal = sum(parts.values())
    parts["overhead"] = OVERHEAD_FIXED_GB[device] * GB + OVERHEAD_FRACTION * subtotal
    breakdown = {name: round(value / GB, 3) for name, value in parts.items()}
    total_gb = round(sum(parts.values()) / GB, 2)
    fits = None if gpu_gb is None else total_gb <= gpu_gb
    estimate = MemoryEstimate(total_gb, breakdown, fits, [], params_b, round(trainable / 1e6, 2), method, device,
                              tokens, logit_tokens)
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
    """What to lower, biggest saving first, when the estimate does not fit (or barely fits) the device's memory.
    QLoRA is advised only on a GPU: on a CPU its 4-bit weights are de-quantised at every step."""
    if gpu_gb is None:
        return []
    if estimate.total_gb <= HEADROOM * gpu_gb:
        return [f"fits with {gpu_gb - estimate.total_gb:.1f} GB to spare"]
    gpu = estimate.device == "gpu"
    tips = []
    if estimate.method == "full":
        tips.append(f"use {'LoRA or QLoRA' if gpu else 'LoRA'} instead of full fine-tuning: optimizer states "
                    "shrink to a few hundred MB")
    if estimate.method == "lora" and gpu:
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
        memory = "GB" if gpu else "GB of RAM"
        tips.insert(
            0,
            f"fits, but with under 15 % headroom ({estimate.total_gb:.1f} of {gpu_gb:g} {memory}): "
            "memory spikes may still cause out-of-memory",
        )
    return tips


# ---- a real model, its data and this machine: what preflight and `tunesmith estimate --base-model` use --------

@dataclass
class Workload:
    """What the heaviest training step processes: the tokens of its batch and the positions whose logits are
    computed, and how they were found (said with the estimate)."""

    tokens: int
    logit_tokens: int
    source: str


def measure_workload(tokenizer: Any, samples: list, batch_size: int, max_seq_len: int, packed: bool) -> Workload:
    """The heaviest batch the data can make: its batch_size longest rows (cut at max_seq_len), encoded as the
    trainer encodes them. Packed (PackedBatch): side by side, logits only where an answer token is predicted;
    padded (PaddedBatch, prompt/p-tuning): every row as long as the longest, logits everywhere."""
    from tools.training.template import encode_sample

    if tokenizer is None or not samples:
        return synthetic_workload(batch_size, max_seq_len)
    by_text = sorted(samples, key=lambda s: len(s.prompt_text()) + len(s.output), reverse=True)
    by_answer = sorted(samples, key=lambda s: len(s.output), reverse=True)
    chosen = {id(s): s for s in by_text[:MEASURED_ROWS] + by_answer[:MEASURED_ROWS]}.values()
    encoded = [encode_sample(tokenizer, sample, max_seq_len) for sample in chosen]
    rows = sorted((len(e.input_ids) for e in encoded), reverse=True)[:batch_size]
    answers = sorted((e.trained_tokens for e in encoded), reverse=True)[:batch_size]
    if packed:
        which = f"the {len(rows)} longest rows packed" if len(rows) > 1 else "the longest row"
        return Workload(sum(rows), sum(answers), f"{which} ({sum(rows)} tokens, {sum(answers)} answer tokens)")
    tokens = rows[0] * len(rows)
    return Workload(tokens, tokens, f"{len(rows)} rows padded to the longest ({rows[0]} tokens)")


MEASURED_ROWS = 256  # the longest texts and the longest answers decide the heaviest batch


def synthetic_workload(batch_size: int, seq_len: int, answer_len: int | None = None) -> Workload:
    """Rows of seq_len tokens (no data to measure): logits at answer_len positions per row, or at all of them."""
    tokens = batch_size * seq_len
    logits = tokens if answer_len is None else batch_size * min(answer_len, seq_len)
    return Workload(tokens, logits, f"{batch_size} × {seq_len} tokens" + (
        f", {answer_len} answer tokens each" if answer_len is not None else ""))


def training_device(gpu_gb: float | None = None) -> tuple[str, float, str]:
    """(gpu|cpu, its memory in GB, a description): the GPU when there is one (or gpu_gb was given), else the RAM."""
    import torch

    if gpu_gb is not None:
        return "gpu", gpu_gb, "GPU (given)"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return "gpu", props.total_memory / GB, f"GPU {props.name}"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    return "cpu", ram, "CPU RAM (no GPU)"


def count_parameters(model_config: Any) -> int:
    """Parameters of the architecture, counted on the meta device (no memory, no weights read). Tied input and
    output embeddings count once (accelerate's init_empty_weights left them untied: gemma-3-270m counted 436M)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    return sum(p.numel() for p in model.parameters())


def architecture_of(model_config: Any) -> dict[str, Any]:
    """The fields estimate_training_memory uses, read from a transformers config."""
    text_config = getattr(model_config, "text_config", None) or model_config
    return {
        "hidden_size": text_config.hidden_size,
        "num_layers": text_config.num_hidden_layers,
        "intermediate_size": getattr(text_config, "intermediate_size", None) or 4 * text_config.hidden_size,
        "vocab_size": text_config.vocab_size,
        "num_attention_heads": getattr(text_config, "num_attention_heads", None),
        "num_key_value_heads": getattr(text_config, "num_key_value_heads", None),
        "tie_word_embeddings": bool(getattr(model_config, "tie_word_embeddings", False)),
        "head_dim": getattr(text_config, "head_dim", None),
    }


def estimate_for_model(model_config: Any, method: str, workload: Workload, *, batch_size: int, seq_len: int,
                       lora_r: int = 16, gradient_checkpointing: bool = False, double_quant: bool = True,
                       device: str, device_gb: float | None) -> tuple[MemoryEstimate, int]:
    """The estimate for a real model (its config), the heaviest batch of its data and this device, and the
    model's parameter count. Any training method is accepted (ESTIMATED_AS maps the ones without a formula)."""
    params = count_parameters(model_config)
    estimate = estimate_training_memory(
        params / 1e9,
        ESTIMATED_AS.get(method, method),
        seq_len=seq_len,
        batch_size=batch_size,
        lora_r=lora_r,
        gradient_checkpointing=gradient_checkpointing,
        gpu_gb=device_gb,
        double_quant=double_quant,
        device=device,
        tokens=workload.tokens,
        logit_tokens=workload.logit_tokens,
        **architecture_of(model_config),
    )
    return estimate, params
