"""`classicnets predict`: classify files with a run's chosen model (best.pt; the last weights
where the run chose none).

    PNG / JPEG   one image each, for image runs of a named data set (stored as 0-255): made
                 grey or RGB as the run's images are, resized (bilinear) to their size where
                 it differs, then prepared exactly as in training: the same code normalises
                 with the training split's mean and std and lays the pixels out for the model
                 (data/sources.py, TensorSource.inputs).
    .npz         an array X (else X_test) of samples as the run's data stores them: images
                 (N, C, H, W), or (N, H, W) for one channel; the toy MLP's points (N, D) as
                 given to it, standardised here as in training.

Every file is read and checked before anything is classified: a missing file, one that is
not an image, an npz without X or of the wrong shape is one line, exit 2. Output: a line per
sample, "FILE: CLASS (p = 0.97)" (FILE[i] for an npz's i-th), or with --json one document.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets.data import registry
from classicnets.errors import UsageError
from classicnets.experiments.spec import Built
from classicnets.runner.run import restore

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 50_000_000  # a bigger "image" is a decompression bomb, not a photo to classify
EVAL_BATCH = 512


def _kind(built: Built) -> str:
    """What the run's model reads: "image", "vector" (a TensorSource's non-image samples),
    or "toy" (the toy MLPs' standardised points)."""
    data = built.data
    if hasattr(data, "inputs"):
        return "image" if data.is_image else "vector"
    if hasattr(data, "X_test"):
        return "toy"
    raise UsageError(
        "predict classifies images and vectors; an rnn-palindrome run reads digit sequences "
        "it makes itself, so there is nothing to give it"
    )


def _stored(built: Built) -> np.ndarray:
    """The run's training samples as stored (their shape and dtype are what inputs match)."""
    data = built.data
    if hasattr(data, "inputs"):
        return data.data["train"][0][:1].cpu().numpy()
    return data.X_train[:1]


def read_image(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A PNG or JPEG as one stored sample (1, C, H, W) of uint8."""
    from PIL import Image, UnidentifiedImageError

    if dtype != np.uint8:
        raise UsageError(
            f"{path}: this run's images are stored as {dtype}, in a scale a PNG or JPEG does "
            "not carry; give an .npz of arrays like its training data"
        )
    C, H, W = shape
    if C not in (1, 3):
        raise UsageError(f"{path}: this run's images have {C} channels; give an .npz")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # larger: refused by Pillow, as below
    try:
        with Image.open(path) as image:
            if image.format not in ("PNG", "JPEG"):
                raise UsageError(f"{path}: a {image.format} image; give a PNG or JPEG")
            image = image.convert("L" if C == 1 else "RGB")
            if image.size != (W, H):
                image = image.resize((W, H), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise UsageError(
            f"{path}: not a readable PNG or JPEG image ({type(error).__name__})"
        ) from None
    return (pixels[None] if C == 1 else pixels.transpose(2, 0, 1))[None]  # (1, C, H, W)


def read_npz(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """X (else X_test) of an .npz, (N, *shape) (N, H, W for one-channel images), finite."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            key = next((k for k in ("X", "X_test") if k in npz.files), None)
            if key is None:
                found = ", ".join(npz.files) or "none"
                raise UsageError(f"{path}: no array X or X_test (it holds {found}); name it X")
            X = npz[key]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"{path}: not a readable .npz ({type(error).__name__})") from None
    if X.ndim == len(shape) and len(shape) == 3 and shape[0] == 1:
        X = X[:, None]  # (N, H, W) -> (N, 1, H, W)
    expected = "(N, " + ", ".join(map(str, shape)) + ")"
    if X.shape[1:] != tuple(shape) or len(X) == 0:
        raise UsageError(f"{path}: {key} has shape {X.shape}; this run's model reads {expected}")
    if not (np.issubdtype(X.dtype, np.number) and np.isfinite(X).all()):
        raise UsageError(f"{path}: {key} must hold finite numbers ({X.dtype} given)")
    return X


def read(path: Path, kind: str, sample: np.ndarray) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"{path}: no such file; give PNG or JPEG images, or .npz arrays")
    if path.suffix.lower() == ".npz":
        return read_npz(path, sample.shape[1:])
    if kind != "image":
        raise UsageError(f"{path}: this run's model reads vectors, not images; give an .npz")
    return read_image(path, sample.shape[1:], sample.dtype)


def probabilities(built: Built, kind: str, X: np.ndarray) -> np.ndarray:
    """(N, K) class probabilities of samples X, as stored, prepared as in training."""
    learner, data = built.learner, built.data
    if kind == "toy":
        return np.asarray(learner.predict_proba((X - data.mean) / data.std))
    out = []
    with torch.no_grad():
        for start in range(0, len(X), EVAL_BATCH):
            batch = torch.from_numpy(np.array(X[start : start + EVAL_BATCH]))  # a copy: writable
            logits = learner.logits(data.inputs(batch.to(data.device)))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def predict(
    run_dir: Path, files: list[Path], as_json: bool, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """`classicnets predict`: a prediction per sample of every file, said; the rows."""
    _, cfg, built = restore(Path(run_dir))
    kind, sample = _kind(built), _stored(built)
    arrays = [(path, read(path, kind, sample)) for path in files]  # every file checked first
    K = built.data.num_classes
    names = registry.class_names(getattr(cfg, "dataset", "")) or tuple(map(str, range(K)))
    rows = []
    for path, X in arrays:
        P = probabilities(built, kind, X)
        for i, p in enumerate(P):
            k = int(p.argmax())
            where = str(path) if path.suffix.lower() != ".npz" else f"{path}[{i}]"
            rows.append({"file": where, "class": names[k], "label": k, "probability": float(p[k])})
    weights = built.weights
    if as_json:
        said = {"chosen": weights.chosen, "step": weights.step, "epoch": weights.epoch}
        say(json.dumps({"run": str(run_dir), "weights": said, "predictions": rows}, indent=1))
    else:
        say(weights.sentence(Path(run_dir)))
        for row in rows:
            say(f"{row['file']}: {row['class']} (p = {row['probability']:.3f})")
    return rows
