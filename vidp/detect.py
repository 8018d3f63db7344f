"""Animal detection with Ultralytics YOLO on sampled frames, and its per-label summary."""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from pydantic import BaseModel

from vidp.atomic import atomic_file
from vidp.devices import resolve_device, usable_cores
from vidp.settings import get_settings

if TYPE_CHECKING:
    from ultralytics import YOLO
    from ultralytics.engine.results import Results

__all__ = [
    "ANIMAL_LABELS",
    "Detection",
    "AnimalSummary",
    "load_detector",
    "detect_animals",
    "summarize_animals",
    "save_best_crops",
]

logger = logging.getLogger(__name__)
os.environ.setdefault("YOLO_VERBOSE", "False")  # Ultralytics logs to stdout otherwise
os.environ.setdefault(
    "YOLO_OFFLINE", "True"
)  # no telemetry or pip auto-installs; weights still download

# COCO's animal classes, by name so any COCO-trained weights work.
ANIMAL_LABELS = frozenset(
    {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}
)


class Detection(BaseModel):
    """One animal box in one sampled frame."""

    label: str
    confidence: float
    time_s: float
    frame: str  # the sampled frame's file name: the same on every machine that samples the video
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels


class AnimalSummary(BaseModel):
    """What the manifest says about one label."""

    label: str
    max_count: int
    first_seen_s: float
    last_seen_s: float
    max_confidence: float
    frames: int


class _Detector:
    """YOLO models for one set of weights. An Ultralytics predictor is not safe to share across
    threads, so each thread takes a model of its own, made when first needed: on the CPU as many
    as the cores hold at Ultralytics' threads per model (two on two cores), on a GPU one."""

    def __init__(self, weights: str) -> None:
        from ultralytics.utils import NUM_THREADS

        self.weights = weights
        self.device = "cuda:0" if resolve_device(get_settings().device) == "cuda" else "cpu"
        self.predictor = _predictor_without_warm_up() if self.device == "cpu" else None
        self._limit = 1 if self.device != "cpu" else max(1, usable_cores() // NUM_THREADS)
        self._made = 0
        self._idle: queue.SimpleQueue[YOLO] = queue.SimpleQueue()
        self._making = threading.Lock()
        self._idle.put(self._new())

    def warm_up(self) -> None:
        """Run a first inference now: it sets up the predictor and imports what it needs
        (on a GPU, torchvision and CUDA's context and kernels, about 6 s on an H200), which the
        first batch of frames would pay otherwise."""
        import numpy as np

        with self.model() as model:
            model.predict(
                np.zeros((64, 64, 3), np.uint8),
                device=self.device,
                predictor=self.predictor,
                verbose=False,
            )

    def _new(self) -> YOLO:
        from ultralytics import YOLO

        model = YOLO(self.weights, task="detect")
        unknown = ANIMAL_LABELS - set(model.names.values())
        if unknown:
            raise ValueError(
                f"detector weights {self.weights!r} lack COCO animal classes {sorted(unknown)}; "
                "use COCO-trained weights such as yolo11n.pt"
            )
        self._made += 1
        return model

    @contextmanager
    def model(self) -> Iterator[YOLO]:
        """A model no other thread uses meanwhile."""
        try:
            model = self._idle.get_nowait()
        except queue.Empty:
            with self._making:
                more = self._made < self._limit
                made = self._new() if more else None
            model = made or self._idle.get()
        try:
            yield model
        finally:
            self._idle.put(model)


@lru_cache(maxsize=1)
def _predictor_without_warm_up() -> type:
    """Ultralytics' detection predictor without its warm-up, for the CPU. There the warm-up runs
    no inference (but for TorchScript and Triton models, whose first batch then pays it): it
    imports torchvision only so that NMS uses torchvision's rather than Ultralytics' own in
    torch, which keeps the same boxes; and that import costs every process that detects 1.6 s
    of CPU (nearly all of it torch._dynamo, which torchvision's ops import)."""
    from ultralytics.models.yolo.detect import DetectionPredictor

    class Predictor(DetectionPredictor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.done_warmup = True

    return Predictor


_loading = threading.Lock()


def load_detector(weights: str) -> _Detector:
    """Load YOLO weights once per process (a second caller waits for the first load)."""
    with _loading:
        return _cached_detector(weights)


@lru_cache(maxsize=2)
def _cached_detector(weights: str) -> _Detector:
    logger.info("loading detector %s", weights)
    return _Detector(weights)


def detect_animals(
    frames: list[Path], times: list[float], weights: str, min_confidence: float
) -> list[Detection]:
    """Run the detector on a batch of frames; keep animal boxes at or above `min_confidence`."""
    detector = load_detector(weights)
    found: list[Detection] = []
    with detector.model() as model:
        for frame, time_s in zip(frames, times, strict=True):
            # One frame a call: Ultralytics infers one image at a time either way, and a list
            # of 16 raised the peak memory of two detecting threads by 370-400 MB.
            (result,) = model.predict(
                str(frame),
                conf=min_confidence,
                device=detector.device,
                predictor=detector.predictor,
                verbose=False,
            )
            found += _animals(result, frame.name, time_s, min_confidence)  # type: ignore[arg-type]
    return found


def _animals(result: Results, frame: str, time_s: float, min_confidence: float) -> list[Detection]:
    """The animal boxes of one frame's result."""
    boxes = result.boxes
    if boxes is None:  # a model that does not detect (classification, say)
        return []
    labels = [result.names[int(cls)] for cls in boxes.cls.tolist()]
    return [
        Detection(
            label=label,
            confidence=round(float(conf), 4),
            time_s=time_s,
            frame=frame,
            box=tuple(round(v, 1) for v in box),
        )
        for label, conf, box in zip(labels, boxes.conf.tolist(), boxes.xyxy.tolist(), strict=True)
        if label in ANIMAL_LABELS and conf >= min_confidence
    ]


def summarize_animals(detections: list[Detection]) -> list[AnimalSummary]:
    """One summary per label, most confident first."""
    by_label: dict[str, list[Detection]] = defaultdict(list)
    for d in detections:
        by_label[d.label].append(d)
    summaries = []
    for label, items in by_label.items():
        per_frame: dict[float, int] = defaultdict(int)
        for d in items:
            per_frame[d.time_s] += 1
        summaries.append(
            AnimalSummary(
                label=label,
                max_count=max(per_frame.values()),
                first_seen_s=min(per_frame),
                last_seen_s=max(per_frame),
                max_confidence=max(d.confidence for d in items),
                frames=len(per_frame),
            )
        )
    return sorted(summaries, key=lambda s: (-s.max_confidence, s.label))


def _box_id(box: tuple[float, float, float, float]) -> str:
    return hashlib.sha1(repr(box).encode()).hexdigest()[:8]


def save_best_crops(
    detections: list[Detection], summaries: list[AnimalSummary], frames: list[Path], out_dir: Path
) -> dict[str, Path]:
    """Save a JPEG of each label's most confident box (with some margin); return label -> file."""
    by_name = {f.name: f for f in frames}
    crops = {}
    for summary in summaries:
        best = max((d for d in detections if d.label == summary.label), key=lambda d: d.confidence)
        with Image.open(by_name[best.frame]) as image:
            x1, y1, x2, y2 = best.box
            mx, my = (x2 - x1) * 0.1, (y2 - y1) * 0.1
            crop = image.crop(
                (
                    max(0, x1 - mx),
                    max(0, y1 - my),
                    min(image.width, x2 + mx),
                    min(image.height, y2 + my),
                )
            )
            # Named after what it shows, so runs with other settings never overwrite it.
            path = (
                out_dir / f"animal-{summary.label}-{Path(best.frame).stem}-{_box_id(best.box)}.jpg"
            )
            with atomic_file(path) as draft:
                crop.convert("RGB").save(draft, quality=90)
        crops[summary.label] = path
    return crops
