"""`classicnets export`: a run's chosen model (best.pt; the last weights where the run chose
none) as a file other tools read.

    safetensors   the model's state dict, every tensor as trained (float32, or the toy
                  MLP's float64), and in its metadata: the experiment, the weights' step and
                  epoch, and the class names. Every model, the NumPy MLP's included.
    onnx          the torch model as a graph (torch.onnx's TorchScript exporter, opset 17),
                  input "input", output "logits" (N, K), the batch size free. An image run's
                  graph takes images as the data set stores them, (N, C, H, W) in its scale
                  (0-255 for the named sets), as float32: the training split's
                  normalisation and the model's layout (flattened, or rows as time steps)
                  are inside the graph, done by the same code as in training
                  (TensorSource.inputs). Other runs take their model's input: the toy MLP
                  standardised 2-D points (mean and std in the metadata), palindromes their
                  encoded digits (N, T, input_dim). The NumPy MLP has no graph to trace:
                  refused in one line (train it with --impl torch, or export safetensors).

The output is written atomically (a temporary name, then renamed): nothing half-written.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from classicnets.data import registry
from classicnets.errors import UsageError
from classicnets.experiments.spec import Built
from classicnets.records import atomic_write
from classicnets.runner.outdir import check_name, check_writable
from classicnets.runner.run import restore

FORMATS = {"onnx": ".onnx", "safetensors": ".safetensors"}
OPSET = 17  # supported by every onnxruntime of the last years


def _needs(module: str, fmt: str) -> Any:
    """Import an optional package, or say in one line how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"--format {fmt} needs the package {module}: pip install {module} (the [dev] "
            "extra has it)"
        ) from None


def output_path(run_dir: Path, fmt: str, out: Path | None) -> Path:
    """Where the export goes (default RUN_DIR/model.FORMAT), checked before anything runs."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    path = Path(out) if out is not None else Path(run_dir) / f"model{FORMATS[fmt]}"
    check_name(path)
    if path.is_dir():
        raise UsageError(
            f"--out '{path}' is a directory; give a file name, e.g. model{FORMATS[fmt]}"
        )
    check_writable(path, is_file=True)
    return path


def metadata(cfg: Any, built: Built, experiment: str) -> dict[str, str]:
    """What a reader of the file needs to use it, as strings (both formats take those)."""
    weights = built.weights
    names = registry.class_names(getattr(cfg, "dataset", "")) or ()
    data = {
        "experiment": experiment,
        "weights": "best" if weights.chosen else "last",
        "step": str(weights.step),
        "epoch": str(weights.epoch),
        "classes": json.dumps(list(names)),
    }
    mean, std = getattr(built.data, "mean", None), getattr(built.data, "std", None)
    if mean is not None and std is not None:  # images: per channel; toy points: per feature
        data["mean"] = json.dumps(torch.as_tensor(mean).flatten().tolist())
        data["std"] = json.dumps(torch.as_tensor(std).flatten().tolist())
    return data


def safetensors_bytes(built: Built, meta: dict[str, str]) -> bytes:
    safetensors_torch = _needs("safetensors.torch", "safetensors")
    # contiguous copies: safetensors stores dense tensors (a channels_last conv is not)
    weights = {k: v.detach().cpu().contiguous() for k, v in built.learner.weights().items()}
    return safetensors_torch.save(weights, metadata=meta)


class FromStored(nn.Module):
    """Stored samples -> logits: the source's own preparation (normalisation, layout), then
    the model; what an image run's ONNX graph holds."""

    def __init__(self, model: nn.Module, inputs: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model, self.inputs = model, inputs

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) as stored
        return self.model(self.inputs(X))


class Stepwise(nn.Module):
    """An explicit recurrent net (models/rnn.py, impl explicit) as a tracer can follow it.

    Its forward runs through time inside an autograd Function of its own (models/bptt.py),
    opaque to torch.onnx's tracer (which would record a graph of zeros); forward_with_states
    computes the same logits from the cell's equations, one time step after another."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, K)
        return self.model.forward_with_states(X)[0]


def graph_and_example(built: Built) -> tuple[nn.Module, torch.Tensor]:
    """The module to trace and an input of two samples for it (a test split's first)."""
    model = built.learner.model
    if not isinstance(model, nn.Module):
        raise UsageError(
            "--format onnx: the NumPy MLP is not a torch module, so there is no graph to "
            "export; use --format safetensors for its weights, or train it with --impl torch"
        )
    model = model.cpu().eval()
    if getattr(model, "impl", None) == "explicit" and hasattr(model, "forward_with_states"):
        model = Stepwise(model).eval()
    data = built.data
    if hasattr(data, "inputs"):  # a TensorSource: images or vectors, as stored
        stored = data.data["test"][0][:2]
        return FromStored(model, data.inputs).eval(), stored.float()
    if hasattr(data, "sample"):  # palindromes: the model's encoded input
        return model, data.sample("test", 2)[0]
    dtype = next(model.parameters()).dtype  # the toy MLP: standardised points
    return model, torch.as_tensor(data.X_test[:2], dtype=dtype)


def onnx_bytes(built: Built, meta: dict[str, str]) -> bytes:
    onnx = _needs("onnx", "onnx")
    graph, example = graph_and_example(built)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of torch.export's, which needs
        # onnxscript; this one needs nothing more and handles every model here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def export(run_dir: Path, fmt: str, out: Path | None, say: Callable[[str], None]) -> Path:
    """`classicnets export`: the chosen model of `run_dir` as `fmt`, to `out`; its path."""
    path = output_path(run_dir, fmt, out)
    experiment, cfg, built = restore(Path(run_dir))  # best.pt, else the last weights
    meta = metadata(cfg, built, experiment.name)
    data = onnx_bytes(built, meta) if fmt == "onnx" else safetensors_bytes(built, meta)
    say(built.weights.sentence(Path(run_dir)))  # once it is sure to be written
    atomic_write(path, data)
    return path
