"""The beat classifier: a CNN for waveform morphology, an LSTM for its time course, and RR context.

Three architectures built from the same parts and trained by the same code (``train.py``):

- ``hybrid``: conv blocks turn the 256-sample beat window (0.71 s at 360 Hz) into a sequence of 32 local
  feature vectors (22 ms apart); a bidirectional LSTM reads that sequence (P wave -> QRS -> T wave).
  Bidirectional was chosen on validation macro-F1 (0.701 +- 0.021 against 0.640 +- 0.032 unidirectional,
  3 seeds; README "Ablation").
- ``cnn``: the same conv blocks, then global average and max pooling over time (no sequence model).
- ``lstm``: the LSTM reads the window itself, averaged to 64 steps of 11 ms (no convolutions).

Every architecture joins the sequence summary with the beat's RR-interval context (``features.rr_inputs``)
before a small classification head that outputs logits for the AAMI classes N, S, V, F, Q.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .aami import AAMI_CLASSES
from .beats import RR_FEATURES, WINDOW_LENGTH

ARCHITECTURES = ("hybrid", "cnn", "lstm")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; stored in the model card next to the weights."""

    arch: str = "hybrid"
    in_channels: int = 1  # the normalised beat (features.normalise_waves)
    channels: tuple[int, ...] = (16, 32, 64)
    kernel: int = 7
    hidden: int = 32
    bidirectional: bool = True
    rr_features: int = len(RR_FEATURES)
    rr_hidden: int = 16
    head_hidden: int = 64
    dropout: float = 0.2
    window: int = WINDOW_LENGTH
    classes: tuple[str, ...] = field(default=AAMI_CLASSES)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        for key in ("channels", "classes"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


def conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Conv1d -> BatchNorm -> ReLU -> MaxPool(2): halves the time axis."""
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out), nn.ReLU(inplace=True), nn.MaxPool1d(2),
    )


class BeatClassifier(nn.Module):
    """Input: waves (batch, in_channels, window) normalised beats, rr (batch, rr_features). Output: logits (batch, 5)."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        if config.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {config.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        self.config = config
        c = config
        if c.arch in ("hybrid", "cnn"):
            chans = (c.in_channels, *c.channels)
            self.cnn = nn.Sequential(*(conv_block(a, b, c.kernel) for a, b in zip(chans[:-1], chans[1:])))
        if c.arch == "lstm":
            self.pool = nn.AvgPool1d(4)  # 256 samples -> 64 steps
        if c.arch in ("hybrid", "lstm"):
            lstm_in = c.channels[-1] if c.arch == "hybrid" else c.in_channels
            self.lstm = nn.LSTM(lstm_in, c.hidden, batch_first=True, bidirectional=c.bidirectional)
            seq_out = c.hidden * (2 if c.bidirectional else 1) * 2  # last state + mean over time
        else:
            seq_out = c.channels[-1] * 2  # average + max pooling
        self.rr = nn.Sequential(nn.Linear(c.rr_features, c.rr_hidden), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Dropout(c.dropout), nn.Linear(seq_out + c.rr_hidden, c.head_hidden), nn.ReLU(inplace=True),
            nn.Dropout(c.dropout), nn.Linear(c.head_hidden, len(c.classes)),
        )

    def sequence_summary(self, waves: torch.Tensor) -> torch.Tensor:
        arch = self.config.arch
        if arch == "cnn":
            h = self.cnn(waves)  # (B, C, T)
            return torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        seq = self.cnn(waves) if arch == "hybrid" else self.pool(waves)  # (B, C, T)
        out, _ = self.lstm(seq.transpose(1, 2))  # (B, T, H)
        return torch.cat([out[:, -1], out.mean(dim=1)], dim=1)

    def forward(self, waves: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.sequence_summary(waves), self.rr(rr)], dim=1))


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
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def load_model(path: str | Path, device: torch.device | str | None = None) -> tuple[BeatClassifier, dict]:
    """Load weights safely (``weights_only=True``) and their model card; the model is in eval mode."""
    path = Path(path).with_suffix("")
    card = json.loads(path.with_suffix(".json").read_text())
    model = BeatClassifier(ModelConfig.from_dict(card["config"]))
    state = torch.load(path.with_suffix(".pt"), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(pick_device(device) if not isinstance(device, torch.device) else device).eval(), card
