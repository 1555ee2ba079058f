"""calibr8 from Python: calibrate an ONNX model to INT8 with your own data loader.

The shape is NNCF's (``nncf.Dataset`` + ``nncf.quantize``), over calibr8's C++ engine, the one the
``calibr8`` command line runs::

    import calibr8
    model = calibr8.load("resnet18.onnx")
    data = calibr8.Dataset(loader, lambda item: item[0].numpy())   # item -> the model's input
    int8 = calibr8.calibrate(model, data, preset="performance", subset=300)
    int8.save("resnet18_int8.onnx")
    out = calibr8.Session(int8).run(x)   # {output name: numpy array}

Errors are ``calibr8.Error`` with the command line's one-line messages.
"""
import sys as _sys
import warnings as _warnings

import numpy as _np

from . import _core
from ._core import Error, Model, load, read_image

__all__ = ["AccuracyWarning", "Dataset", "Error", "Model", "Session", "calibrate", "compare", "load", "read_image"]


class AccuracyWarning(UserWarning):
    """AccuracyAware could not meet the bound; the model returned is the best it found."""


class Dataset:
    """Calibration data: any iterable (a list, a generator, a torch DataLoader) and a function turning
    one item into the model's input: a numpy array (or anything ``numpy.asarray`` takes, such as a torch
    tensor) holding one image in the model's input shape without the batch dimension, or a batch of them
    (with it), or a dict ``{input name: array}``. Without a transform the items are the inputs.

    A generator can be read once only: calibr8 reads the source once and keeps the samples for its passes.
    """

    def __init__(self, source, transform=None, label=None):
        self.source = source
        self.transform = transform
        self.label = label  # item -> class index, for the built-in metric "top1"

    def samples(self, model):
        """The samples as a list of float32 arrays, one per image, each in the input's per-image shape."""
        return self._read(model)[0]

    def _read(self, model, one_per_item=False):
        if len(model.inputs) != 1:
            raise Error(f"calibration takes single-input models; this one has {len(model.inputs)} inputs")
        name = model.inputs[0]["name"]
        shape = model.inputs[0]["shape"]
        rank = len(shape) if shape is not None else 4
        out, items = [], []
        try:
            iterator = iter(self.source)
        except TypeError:
            raise Error(f"Dataset: the source ({type(self.source).__name__}) is not iterable") from None
        for k, item in enumerate(iterator):
            x = self.transform(item) if self.transform is not None else item
            if isinstance(x, dict):
                if set(x) != {name}:
                    raise Error(f"item {k}: the dict has keys {sorted(x)}; the model's input is '{name}'")
                x = x[name]
            a = _np.asarray(x)
            if a.dtype != _np.float32:
                if a.dtype.kind != "f":
                    raise Error(f"item {k}: dtype {a.dtype}; the model takes float32 (convert in the transform)")
                a = a.astype(_np.float32)
            if a.ndim == rank:
                if one_per_item and a.shape[0] != 1:
                    raise Error(f"item {k}: a batch of {a.shape[0]}; validation items must hold one sample each "
                                "(the metric scores one item at a time: use batch_size=1)")
                out.extend(_np.ascontiguousarray(s) for s in a)
                items.extend([item] * a.shape[0])
            elif a.ndim == rank - 1:
                out.append(_np.ascontiguousarray(a))
                items.append(item)
            else:
                raise Error(f"item {k}: shape {list(a.shape)}; input '{name}' has shape {shape} (one image or a batch)")
        return out, items


class _Bar:
    """A progress bar on stderr, drawn only when stderr is a terminal (as the command line's)."""

    def __init__(self):
        self.stage = None
        self.tty = _sys.stderr.isatty()

    def __call__(self, stage, done, total):
        if not self.tty:
            return
        if stage != self.stage:
            if self.stage is not None:
                _sys.stderr.write("\n")
            self.stage = stage
        filled = int(30 * done / total) if total else 30
        _sys.stderr.write(f"\r{stage:<18} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        _sys.stderr.flush()

    def close(self):
        if self.tty and self.stage is not None:
            _sys.stderr.write("\n")


def _metric_function(metric, validation):
    if callable(metric):
        return metric
    if metric == "top1":
        if validation.label is None:
            raise Error('metric "top1" needs Dataset(..., label=lambda item: class index) for the validation data')

        def top1(outputs, item):
            first = next(iter(outputs.values()))
            return float(int(_np.argmax(first)) == int(validation.label(item)))
        return top1
    raise Error(f'metric: a function (outputs, item) -> float, or "top1"; not {metric!r}')


def calibrate(model, dataset, *, method="default", preset="performance", subset=None, seed=0, ignore=(),
              act_estimator="mean_minmax", weight_estimator="minmax", weight_granularity="per-channel", target="auto",
              saturation_fix="auto", bias_correction=True, equalize=False, bias_images=None, batch=None, threads=1,
              preprocess=None, validation=None, metric=None, max_drop=0.01, drop_type="absolute", ranking="accuracy",
              try_mixed=False, holdout=None, sensitivity=True, tune="cached", progress=None):
    """Calibrates ``model`` (a path or a ``Model``) on ``dataset`` (a ``Dataset``, or an iterable of model inputs)
    with the Default method; returns the INT8 QDQ ``Model``. The options are the command line's
    (``calibr8 calibrate --help``): ``subset`` is a count or a percentage string ("10%"), ``ignore`` node names or
    op types kept FP32, ``preprocess`` the preprocessing keys recorded in the written model (resize, crop, size,
    mean, std, layout, color, label_offset), so that ``calibr8 evaluate`` on it needs no flags.
    ``progress(stage, done, total)`` is called as the passes go; by default a bar is drawn when stderr is a terminal.
    With the same samples and settings the file is byte for byte the command line's.

    ``method="accuracy-aware"``: the fastest model whose metric on ``validation`` (a ``Dataset`` whose items give one
    sample each) stays within ``max_drop`` of FP32's. ``metric(outputs, item) -> float`` scores one item
    (``outputs``: {output name: array} for that sample), averaged over the items, higher is better; or "top1" with
    ``Dataset(..., label=fn)``. ``max_drop`` is in the metric's units (0.005 = 0.5 points of a 0..1 accuracy), or a
    fraction of FP32's metric with ``drop_type="relative"``; ``ranking``, ``try_mixed``, ``holdout`` (samples kept
    out of every decision, reported) and ``sensitivity`` are the command line's. The result's ``report
    ["accuracy_aware"]`` holds the steps; when the bound cannot be met, the best model found is returned with an
    ``AccuracyWarning``."""
    if isinstance(model, str):
        model = load(model)
    if not isinstance(dataset, Dataset):
        dataset = Dataset(dataset)
    options = {"preset": preset, "subset": None if subset is None else str(subset), "seed": int(seed),
               "ignore": [ignore] if isinstance(ignore, str) else list(ignore), "act_estimator": act_estimator, "weight_estimator": weight_estimator,
               "weight_granularity": weight_granularity, "target": target, "saturation_fix": saturation_fix,
               "bias_correction": bool(bias_correction), "equalize": bool(equalize), "bias_images": bias_images,
               "batch": batch, "threads": int(threads), "preprocess": preprocess}
    options.update({"method": method, "max_drop": float(max_drop), "drop_type": drop_type, "ranking": ranking,
                    "try_mixed": bool(try_mixed), "holdout": holdout, "sensitivity": bool(sensitivity), "tune": tune})
    val_samples = score = None
    if method == "accuracy-aware":
        if validation is None or metric is None:
            raise Error("accuracy-aware needs validation=Dataset(...) and metric=function or \"top1\"")
        if not isinstance(validation, Dataset):
            validation = Dataset(validation)
        fn = _metric_function(metric, validation)
        val_samples, items = validation._read(model, one_per_item=True)
        score = lambda row, outputs: fn(outputs, items[row])
    bar = None
    if progress is None:
        bar = progress = _Bar()
    try:
        result = _core.calibrate(model, dataset.samples(model), options, progress, val_samples, score)
    finally:
        if bar is not None:
            bar.close()
    aa = (result.report or {}).get("accuracy_aware")
    if aa is not None and not aa["met"]:
        _warnings.warn(f"accuracy-aware: the drop stays above the bound ({aa['fp32']:.4f} FP32, {aa['final']:.4f} "
                       f"final, bound {aa['bound']:.4f}); returning the best model found", AccuracyWarning, stacklevel=2)
    return result


class Session:
    """Runs a model on calibr8's runtime. ``run(x)`` takes one array (single-input models) or
    ``{input name: array}`` and returns ``{output name: numpy array}``; C-contiguous inputs are read in place
    and outputs are not copied; the GIL is released while it runs."""

    def __init__(self, model, threads=1, tune="cached"):
        if isinstance(model, str):
            model = load(model)
        self.model = model
        self._s = _core.Session(model, threads, tune)

    @property
    def input_names(self):
        return self._s.input_names

    @property
    def output_names(self):
        return self._s.output_names

    def run(self, inputs):
        return self._s.run(inputs)

    def bench(self, inputs, seconds=1.0, warmup=5):
        """Latency of ``run(inputs)`` as ``calibr8 bench --json`` reports it: median_ms, mean_ms, min_ms, p90_ms,
        runs, throughput_ips, batch, threads."""
        return self._s.bench(inputs, seconds, warmup)


def compare(a, b, dataset, *, preprocess=None, limit=None, range=None, batch=None, threads=1, tune="cached",
            seconds=4.0, layer_images=16, task=None, adapter=None, progress=None):
    """``calibr8 compare A B --dataset DATASET --json`` as a dict: the candidate ``b`` (e.g. the INT8 model) against
    the reference ``a`` on an image folder (annotated: accuracy of both; any images: output agreement), their
    latency (``seconds=0`` skips it) and the per-layer table (``layer_images=0`` skips it). ``a`` and ``b`` are
    paths or ``Model`` objects; the preprocessing recorded in them is used unless ``preprocess`` is given."""
    a = load(a) if isinstance(a, str) else a
    b = load(b) if isinstance(b, str) else b
    options = {"preprocess": preprocess, "limit": limit, "range": range, "batch": batch, "threads": int(threads),
               "tune": tune, "seconds": float(seconds), "layer_images": int(layer_images), "task": task, "adapter": adapter}
    bar = None
    if progress is None:
        bar = progress = _Bar()
    try:
        return _core.compare(a, b, str(dataset), options, progress)
    finally:
        if bar is not None:
            bar.close()
