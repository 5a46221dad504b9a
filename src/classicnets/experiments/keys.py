"""The keys experiments share, each declared once: what it means, its unit, its check.

Groups are what an experiment takes whole (`config.define("CNNConfig", IMAGE, TRAINING,
OPTIM, ...)`); single keys (SEED, PATIENCE, ...) are for experiments that take a few. An
experiment changes a default by naming the key with a value, and says why beside it.
"""

from __future__ import annotations

from typing import Literal

from classicnets import config
from classicnets.config import Key, non_negative, positive
from classicnets.data import registry
from classicnets.errors import UsageError
from classicnets.train.optim import Optimizer, Schedule


def _fraction_or_zero(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.1 (0 = no validation split)"


def _below_one(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1), e.g. 0.1"


# The seeds every library here takes: scikit-learn's random_state and NumPy's legacy
# RandomState (Optuna's samplers) stop at 2**32 - 1; SeedSequence and torch refuse negatives.
SEED_MAX = 2**32 - 1


def _seed(value: int) -> str | None:
    return None if 0 <= value <= SEED_MAX else f"must be in 0 .. {SEED_MAX}, e.g. 42"


# --- single keys ---
SEED = Key(int, 42, "seeds the data, the initial weights, the batch order and augmentation", _seed)
PATIENCE = Key(
    int,
    0,
    "evaluations without a better validation accuracy before stopping (0 = never)",
    non_negative,
)
VAL_SIZE = Key(
    float,
    0.1,
    "fraction of the training split held out for validation, which alone picks the best "
    "epoch and early stopping (0 = none: nothing is chosen, and --patience and --search "
    "are refused)",
    _fraction_or_zero,
)
EPOCHS = Key(int, 20, "passes over the training split", positive)
EVAL_FREQ = Key(int, 1, "epochs between evaluations", positive)

# --- image data: the image experiments (mlp-images, cnn, resnet, rnn-images) ---
IMAGE = {
    "dataset": Key(
        str,
        "fashion-mnist",
        "cifar10, mnist, fashion-mnist, digits (scikit-learn's 8x8), mnist1d (MNIST-1D's "
        "signals as 40x1 columns), or npz:PATH (X_train, "
        "y_train, X_test, y_test; images N×C×H×W or N×H×W)",
        registry.check_image_name,
    ),
    "data_dir": Key(str, "data", "where data sets are looked for and --download puts them"),
    "download": Key(
        bool, False, "fetch a missing data set from its official location (MD5-checked)"
    ),
    "val_size": VAL_SIZE,
    "train_samples": Key(
        int, 0, "train on a stratified random subset of this many images (0 = all)", non_negative
    ),
    "test_samples": Key(
        int, 0, "evaluate on a stratified subset of the test split (0 = all)", non_negative
    ),
    "augment": Key(
        bool,
        False,
        "random crops after zero padding (4 px at 28-32 px; a one-pixel-wide signal is "
        "shifted along its length) and horizontal flips (not for mnist, digits and "
        "mnist1d), drawn per batch from (seed, epoch)",
    ),
    "batch_size": Key(int, 128, "images per update", positive),
}

# --- the loop of the image experiments: epochs, grown on a small training split ---
MIN_UPDATES = Key(
    int,
    4000,
    "updates an automatic --epochs makes at least: a training split too small for that "
    "in the experiment's passes gets a whole multiple of them (0 = the passes alone); "
    "4,000 leaves Fashion-MNIST's defaults as they were and gives 8x8 digits and MNIST-1D "
    "~10x the updates their passes make",
    non_negative,
)


def auto_epochs(base: int) -> Key:
    """--epochs of an image experiment: 0 (the default) is `base` passes, multiplied by the
    smallest whole k that makes --min_updates updates (experiments/images.py: budget)."""
    return Key(
        int,
        0,
        f"passes over the training split; 0 = automatic: {base}, or k x {base} on a training "
        f"split too small for --min_updates updates in {base}, with --eval_freq also k x, "
        "so a run evaluates as often and --patience means the same",
        non_negative,
    )


TRAINING = {
    "epochs": auto_epochs(10),  # each experiment names its own base passes
    "min_updates": MIN_UPDATES,
    "eval_freq": EVAL_FREQ,
    "patience": PATIENCE,
    "seed": SEED,
}

# --- torch.optim: every torch experiment but the toy MLP ---
OPTIM = {
    "optimizer": Key(Optimizer, "adam", "sgd, adam, adamw, adagrad or rmsprop (torch.optim)"),
    "learning_rate": Key(float, 1e-3, "step size (the peak of the schedule)", positive),
    "momentum": Key(float, 0.0, "sgd and rmsprop: momentum (0 = none, as torch.optim)", _below_one),
    "nesterov": Key(bool, False, "sgd: Nesterov momentum"),
    "weight_decay": Key(
        float,
        0.0,
        "L2 penalty; decoupled (AdamW-style) for adamw, added to the gradient otherwise",
        non_negative,
    ),
    "lr_schedule": Key(
        Schedule,
        "none",
        "learning rate over the run: none (constant), step (x0.1 at 50% and 75% of the "
        "steps), cosine (to 0), onecycle (warm-up to learning_rate, then down), linear (to 0 "
        "after the last update)",
    ),
    "warmup": Key(
        float,
        0.0,
        "fraction of the steps over which the rate rises linearly to learning_rate before "
        "the schedule's shape (0 = none; not with onecycle, which has its own); with linear "
        "it makes airbench's triangle",
        _below_one,
    ),
    "label_smoothing": Key(float, 0.0, "cross-entropy label smoothing (0 = none)", _below_one),
    "max_norm": Key(
        float, 0.0, "clip the gradient to this global L2 norm (0 = no clipping)", non_negative
    ),
}

# --- a training recipe for small budgets: the image experiments (mlp-images, cnn, resnet,
# rnn-images). After github.com/KellerJordan/cifar10-airbench and tysam-code/hlb-CIFAR10,
# whose short CIFAR-10 runs owe much of their accuracy to these.
RECIPE = {
    "ema": Key(
        float,
        0.0,
        "decay per update of an exponential moving average of the weights (0 = off), warmed "
        "up as min(ema, (1 + n) / (10 + n)) at update n; the average is what is evaluated, "
        "checkpointed as the model and analysed, e.g. 0.99",
        _below_one,
    ),
    "tta": Key(
        bool,
        False,
        "test-time augmentation: every evaluation averages the logits of each image and its "
        "horizontal mirror (not for mnist, digits and mnist1d, which a mirror changes)",
    ),
    "lr_scale_batch": Key(
        int,
        0,
        "0 = learning_rate is the rate itself; N = learning_rate is per N images, and the "
        "rate used is learning_rate x batch_size / N (the linear scaling rule), e.g. 1024",
        non_negative,
    ),
}

# --- recurrent nets: rnn-palindrome and rnn-images ---
Cell = Literal["rnn", "lstm", "gru"]
RECURRENT = {
    "cell": Key(Cell, "rnn", "rnn (the explicit vanilla RNN), lstm or gru"),
    "impl": Key(
        Literal["explicit", "fused"],
        "explicit",
        "explicit: the cell's equations written out in torch ops; fused: torch.nn.RNN/LSTM/GRU",
    ),
    "init": Key(
        Literal["normal", "orthogonal", "identity"],
        "normal",
        "recurrent weights W_hh: normal (the course), orthogonal, or identity (IRNN)",
    ),
    "num_hidden": Key(int, 128, "size of the hidden state h_t", positive),
}

# The optimizer keys alone, as a config (benchmarks and tests build a learner from it).
OptimConfig = config.define("OptimConfig", OPTIM)


def check_validation(cfg: object) -> None:
    """Early stopping watches the validation split: with --val_size 0 there is none, so a
    --patience above 0 is refused rather than silently ignored."""
    if getattr(cfg, "val_size", 1) == 0 and getattr(cfg, "patience", 0) > 0:
        raise UsageError(
            f"--patience {cfg.patience} with --val_size 0: early stopping watches the "
            "validation split; give --val_size a fraction (e.g. 0.1) or --patience 0"
        )
