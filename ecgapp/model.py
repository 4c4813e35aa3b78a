"""The beat classifier: a CNN for each beat's morphology, a bidirectional LSTM across the beats around it.

Architectures built from the same parts and trained by the same code (``train.py``):

- ``hybrid`` (shipped): a CNN embeds every beat (its 256-sample window, 0.71 s at 360 Hz, read beside the
  record's dominant beat, plus its RR-interval context); a bidirectional LSTM reads the embeddings of the
  beat and ``context`` beats on each side (rhythm is a sequence of beats: an early narrow beat after a run
  of steady ones); a head labels the centre beat. One label per beat, from a fixed neighbourhood, so a
  beat's label never depends on how a record is batched.
- ``cnn``: the same beat embedding, labelled on its own (no LSTM, no neighbours).
- ``intrabeat``: conv blocks turn one beat into 32 feature vectors 22 ms apart and a bidirectional LSTM
  reads them (P wave -> QRS -> T wave): the first hybrid of this project, kept for the ablation.
- ``lstm``: a bidirectional LSTM over the beat itself at 90 Hz (no convolutions).

Inputs (``features.beat_inputs``): waves (n, 2, L) = normalised beat and the record's template, rr (n, 10).
With ``template=True`` the CNN reads two channels, the beat and beat minus template; otherwise the beat only.
Every model's ``forward(waves, rr)`` takes the beats of ONE record in time order and returns (n, 5) logits;
the per-beat architectures ignore the order. The logits end with the decision rule and calibration fitted
in cross-validation: S lowered inside atrial fibrillation (``rhythm.apply_af_gate`` at ``af_threshold``,
read from the record's RR intervals; needs the whole record, so it is applied by ``forward`` and
``inference.predict_logits``, not by ``classify``), ``logit_bias`` added, then divided by ``temperature``
(0, 0 and 1 until fitted: no gate, no offsets); and V moved to N for a beat read as V that comes on time
(``rhythm.apply_v_gate`` at ``v_gate``; zeros: off), and S moved to N for a beat read as S that is neither early
nor fast (``rhythm.apply_s_gate`` at ``s_gate``; zeros: off). Last, serving (``inference.predict_logits``, which has the
whole record) pulls each beat's N, V, F and Q probabilities towards those of its morphology template
(``templates.template_consensus`` at ``template_mix``; 0: off), as Holter software labels templates, a beat read
as S whose shape is farther than ``far_shape`` from every normal shape of the record becomes V (0: off), and the
N beats of a fast run that starts abruptly and holds a beat the network reads as S become S (a supraventricular
tachycardia: ``rhythm.sv_run_mask`` at ``sv_run``; zeros: off).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .aami import AAMI_CLASSES
from .beats import RR_FEATURES, WINDOW_BEFORE, WINDOW_LENGTH
from .errors import InputError
from .processing import MODEL_FS
from .rhythm import AF_GATE_PENALTY, S_INDEX, af_gate_mask, apply_sv_runs, move_class, s_gate_mask, v_gate_mask, v_to_n
from .templates import beat_templates, consensus_probabilities, far_shape_step

ARCHITECTURES = ("hybrid", "cnn", "intrabeat", "lstm")
POOLS = ("global", "regions")
QRS_BEFORE_S, QRS_AFTER_S = 0.05, 0.10  # seconds: the QRS region of ``pool="regions"`` around the R peak
_QRS_START, _QRS_END = WINDOW_BEFORE - round(QRS_BEFORE_S * MODEL_FS), WINDOW_BEFORE + round(QRS_AFTER_S * MODEL_FS)
# the window's parts that ``pool="regions"`` pools apart, in samples at MODEL_FS from the window's start (the R peak at
# WINDOW_BEFORE): before the QRS (from 250 ms before the R peak to 50 ms before it: the P wave, or the T wave of the
# beat before an early one), the QRS (50 ms before to 100 ms after the R peak) and the ST segment and T wave
POOL_REGIONS = ((0, _QRS_START), (_QRS_START, _QRS_END), (_QRS_END, WINDOW_LENGTH))
SEQUENCE_ARCHITECTURES = ("hybrid",)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; stored in the model card next to the weights."""

    arch: str = "hybrid"
    template: bool = True  # read each beat beside the record's dominant beat (features.record_template)
    context: int = 4  # hybrid: beats on each side the LSTM reads across (the beat and 4 before, 4 after)
    channels: tuple[int, ...] = (16, 32, 64)
    kernel: int = 7
    hidden: int = 32
    bidirectional: bool = True
    rr_features: int = len(RR_FEATURES)  # reads the first rr_features columns of beats.RR_FEATURES
    rr_hidden: int = 16
    embed: int = 64  # hybrid/cnn: size of one beat's embedding
    head_hidden: int = 64
    dropout: float = 0.2
    pool: str = "global"  # hybrid/cnn: how the CNN's output is pooled over the window: "global" (average and max over
    # the whole window) or "regions" (average and max over each of POOL_REGIONS: the P wave, the QRS, the ST-T)
    window: int = WINDOW_LENGTH
    classes: tuple[str, ...] = field(default=AAMI_CLASSES)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("channels", "classes"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    @property
    def in_channels(self) -> int:
        return 2 if self.template and self.arch in ("hybrid", "cnn") else 1


def conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Conv1d -> BatchNorm -> ReLU -> MaxPool(2): halves the time axis."""
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out), nn.ReLU(inplace=True), nn.MaxPool1d(2),
    )


class BeatClassifier(nn.Module):
    """``forward(waves (n, 2 or 1, L), rr (n, 10))`` -> logits (n, 5), for one record's beats in time order."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        if config.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {config.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if config.pool not in POOLS:
            raise ValueError(f"unknown pooling {config.pool!r}; choose one of {', '.join(POOLS)}")
        self.config = c = config
        if c.arch in ("hybrid", "cnn", "intrabeat"):
            chans = (c.in_channels, *c.channels)
            self.cnn = nn.Sequential(*(conv_block(a, b, c.kernel) for a, b in zip(chans[:-1], chans[1:])))
        if c.arch == "lstm":
            self.pool = nn.AvgPool1d(4)  # 256 samples -> 64 steps
        if c.arch in ("intrabeat", "lstm"):
            lstm_in = c.channels[-1] if c.arch == "intrabeat" else 1
            self.lstm = nn.LSTM(lstm_in, c.hidden, batch_first=True, bidirectional=c.bidirectional)
            seq_out = c.hidden * (2 if c.bidirectional else 1) * 2  # last state + mean over time
        else:
            seq_out = c.channels[-1] * 2 * len(self.pool_steps())  # average + max pooling (per region)
        self.rr = nn.Sequential(nn.Linear(c.rr_features, c.rr_hidden), nn.ReLU(inplace=True))
        if c.arch in ("hybrid", "cnn"):
            self.embed = nn.Sequential(nn.Linear(seq_out + c.rr_hidden, c.embed), nn.ReLU(inplace=True))
            head_in = c.embed
        else:
            head_in = seq_out + c.rr_hidden
        if c.arch == "hybrid":
            self.beat_lstm = nn.LSTM(c.embed, c.hidden, batch_first=True, bidirectional=True)
            head_in = c.embed + 2 * c.hidden  # the centre beat's own embedding + what the LSTM read around it
        self.head = nn.Sequential(
            nn.Dropout(c.dropout), nn.Linear(head_in, c.head_hidden), nn.ReLU(inplace=True),
            nn.Dropout(c.dropout), nn.Linear(c.head_hidden, len(c.classes)),
        )
        self.register_buffer("logit_bias", torch.zeros(len(c.classes)))
        self.register_buffer("temperature", torch.ones(()))
        self.register_buffer("af_threshold", torch.zeros(()))
        self.register_buffer("v_gate", torch.zeros(4))  # on-time V gate (early, pause, fast, sure); 0 = off
        self.register_buffer("s_gate", torch.zeros(2))  # on-time S gate (early, fast); 0 = off
        self.register_buffer("template_mix", torch.zeros(()))  # templates.template_consensus weight; 0 = off
        self.register_buffer("sv_run", torch.zeros(3))  # rhythm.sv_run_mask (fast, steady, onset); 0 = off
        self.register_buffer("far_shape", torch.zeros(()))  # templates.far_shape_step threshold; 0 = off

    def pool_steps(self) -> list[tuple[int, int]]:
        """The CNN output's time steps pooled together: the whole window, or each of POOL_REGIONS (its samples
        divided by the CNN's downsampling, one halving per conv block)."""
        steps = self.config.window >> len(self.config.channels)
        if self.config.pool == "global":
            return [(0, steps)]
        down = 1 << len(self.config.channels)
        return [(round(a / down), round(b / down)) for a, b in POOL_REGIONS]

    @property
    def is_sequence(self) -> bool:
        return self.config.arch in SEQUENCE_ARCHITECTURES

    def _wave_input(self, waves: torch.Tensor) -> torch.Tensor:
        beat = waves[:, :1]
        if self.config.in_channels == 2:
            if waves.shape[1] < 2:
                raise InputError("this model reads each beat beside the record's template: pass features.beat_inputs")
            return torch.cat([beat, beat - waves[:, 1:2]], dim=1)
        return beat

    def encode(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Per-beat features before the head (hybrid/cnn: the beat embedding), (n, D)."""
        arch = self.config.arch
        x = self._wave_input(waves)
        if arch in ("hybrid", "cnn"):
            h = self.cnn(x)
            seq = torch.cat([torch.cat([part.mean(dim=2), part.amax(dim=2)], dim=1)
                             for part in (h[:, :, a:b] for a, b in self.pool_steps())], dim=1)
        else:
            s = self.cnn(x) if arch == "intrabeat" else self.pool(x)  # (B, C, T)
            out, _ = self.lstm(s.transpose(1, 2))
            seq = torch.cat([out[:, -1], out.mean(dim=1)], dim=1)
        z = torch.cat([seq, self.rr(rr[:, :self.config.rr_features])], dim=1)  # the first rr_features columns
        return self.embed(z) if arch in ("hybrid", "cnn") else z

    def context_index(self, n: int, device=None) -> torch.Tensor:
        """(n, 2k+1) indices of each beat's neighbours, clipped at the record's ends (the edge beat repeats)."""
        k = self.config.context
        off = torch.arange(-k, k + 1, device=device)
        return (torch.arange(n, device=device)[:, None] + off[None, :]).clamp(0, max(n - 1, 0))

    def classify_raw(self, emb: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """The head's logits (before the decision rule) for embeddings ``emb`` (n, D). Sequence models read,
        for each labelled beat, the rows ``index`` (m, 2k+1) of ``emb`` (centre in the middle); default:
        every beat of one record."""
        if index is None:
            index = self.context_index(emb.shape[0], emb.device)
        if not self.is_sequence:
            return self.head_logits(emb[index[:, index.shape[1] // 2]][:, None])
        return self.head_logits(emb[index])

    def classify(self, emb: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``classify_raw`` with the decision offsets and temperature (no AF gate: see ``forward``)."""
        return self.calibrate(self.classify_raw(emb, index))

    def head_input(self, ctx: torch.Tensor) -> torch.Tensor:
        """What the head reads (m, D') for the centre beat of each neighbourhood ``ctx`` (m, 2k+1, D): hybrid,
        the centre beat's embedding beside the LSTM's output at the centre; otherwise the embedding."""
        mid = ctx.shape[1] // 2
        if self.is_sequence:
            seq, _ = self.beat_lstm(ctx)  # (m, 2k+1, 2H)
            return torch.cat([ctx[:, mid], seq[:, mid]], dim=1)
        return ctx[:, mid]

    def head_logits(self, ctx: torch.Tensor) -> torch.Tensor:
        """The head's logits (m, 5) for the centre beat of each neighbourhood ``ctx`` (m, 2k+1, D)."""
        return self.head(self.head_input(ctx))

    def classify_context(self, ctx: torch.Tensor) -> torch.Tensor:
        """Logits (m, 5) of the centre beat of each neighbourhood, offsets and temperature applied."""
        return self.calibrate(self.head_logits(ctx))

    def calibrate(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw + self.logit_bias) / self.temperature

    def gate(self, raw: torch.Tensor, rr: np.ndarray) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
        """(``raw`` logits of one whole record with S lowered inside atrial fibrillation, V moved to N where a
        beat read as V comes on time and S moved to N where a beat read as S is neither early nor fast, the AF mask,
        the on-time V mask, the on-time S mask); ``rr`` (n, 10): the model's RR input."""
        rr = np.asarray(rr)
        z = raw.detach().float().cpu().numpy()
        af = af_gate_mask(z, rr[:, 0], float(self.af_threshold))
        penalty = torch.zeros_like(raw)
        penalty[torch.from_numpy(af).to(raw.device), S_INDEX] = AF_GATE_PENALTY
        gated = raw - penalty
        on_time_v = v_gate_mask(z - penalty.float().cpu().numpy(), rr, self.v_gate.tolist())
        if on_time_v.any():
            gated = v_to_n(gated, on_time_v)
        on_time_s = s_gate_mask(gated.detach().float().cpu().numpy(), rr, self.s_gate.tolist())
        if on_time_s.any():
            gated = move_class(gated, on_time_s, S_INDEX, AAMI_CLASSES.index("N"))
        return gated, af, on_time_v, on_time_s

    def consensus(self, logits: np.ndarray, waves: np.ndarray,
                  rr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(served logits, template mask, far-shape mask) of one whole record: with ``template_mix`` > 0 each beat's
        N, V, F and Q probabilities (softmax of ``logits``, the calibrated ones) pulled towards its template's
        (``templates.template_consensus`` over ``templates.beat_templates(waves, rr)``), then with ``far_shape`` > 0
        a beat read as S whose shape is that far from every normal one of the record made V (``far_shape_step``),
        returned as log-probabilities, with the bool (n,) masks of the beats whose label each changed; else
        (``logits``, all False, all False)."""
        mix, far = float(self.template_mix), float(self.far_shape)
        logits = np.asarray(logits, dtype=np.float32)
        none = np.zeros(len(logits), bool)
        if (mix <= 0 and far <= 0) or len(logits) == 0:
            return logits, none, none
        t = beat_templates(np.asarray(waves), np.asarray(rr))
        pulled = consensus_probabilities(logits, t.assignment, mix)
        by_template = pulled.argmax(axis=1) != logits.argmax(axis=1)
        served, far_v = far_shape_step(pulled, (t.shape[t.assignment], t.gap), far)
        return np.log(np.maximum(served, 1e-30)).astype(np.float32), by_template, far_v

    def runs(self, logits: np.ndarray, rr: np.ndarray, af: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, run mask) of one whole record, last in the rule: with ``sv_run`` set, N moved to S for the beats
        of a fast run that the network reads as supraventricular (``rhythm.sv_run_mask`` over the served
        ``logits``, outside the AF mask ``af``); else (``logits``, all False)."""
        return apply_sv_runs(logits, rr, self.sv_run.tolist(), af)

    def forward(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        """Final logits (n, 5) of one record's beats in time order (decision rule, AF gate, template consensus and
        supraventricular runs included; with consensus or runs they carry no gradient)."""
        rr_np = rr.detach().cpu().numpy()
        gated, af, _, _ = self.gate(self.classify_raw(self.encode(waves, rr)), rr_np)
        logits = self.calibrate(gated)
        if float(self.template_mix) <= 0 and float(self.far_shape) <= 0 and float(self.sv_run[0]) <= 0:
            return logits
        served = self.consensus(logits.detach().float().cpu().numpy(), waves.detach().cpu().numpy(), rr_np)[0]
        return torch.from_numpy(self.runs(served, rr_np, af)[0]).to(logits.device)


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when available (or when asked for), else CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(model: BeatClassifier, path: Path, card: dict) -> None:
    """Write ``<path>.pt`` (state dict) and ``<path>.json`` (model card with the config to rebuild it)."""
    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    tmp.replace(path.with_suffix(".pt"))
    card = {**card, "config": asdict(model.config), "parameters": count_parameters(model)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(path.with_suffix(".json"))


def complete_state(state: dict) -> dict:
    """A state dict saved before some part of the decision rule existed, completed with that part off (the same
    dict, for ``load_state_dict``)."""
    state.setdefault("af_threshold", torch.zeros(()))  # weights from before the AF gate: no gate
    state.setdefault("v_gate", torch.zeros(4))  # weights from before the on-time V gate: no gate
    state.setdefault("s_gate", torch.zeros(2))  # weights from before the on-time S gate: no gate
    state.setdefault("template_mix", torch.zeros(()))  # weights from before template consensus: none
    state.setdefault("sv_run", torch.zeros(3))  # weights from before the supraventricular run rule: none
    state.setdefault("far_shape", torch.zeros(()))  # weights from before the far-shape step: none
    if state["v_gate"].numel() == 3:  # a gate without the "unless sure of V" limit: gate any V
        state["v_gate"] = torch.cat([state["v_gate"], torch.ones(1)])
    return state


def load_model(path: str | Path, device: torch.device | str | None = None) -> tuple[BeatClassifier, dict]:
    """Load weights safely (``weights_only=True``) and their model card; the model is in eval mode."""
    path = Path(path).with_suffix("")
    card = json.loads(path.with_suffix(".json").read_text())
    model = BeatClassifier(ModelConfig.from_dict(card["config"]))
    model.load_state_dict(complete_state(torch.load(path.with_suffix(".pt"), map_location="cpu", weights_only=True)))
    return model.to(pick_device(device) if not isinstance(device, torch.device) else device).eval(), card
