"""The Python API (src/python) against the command line: the same engine, the same bytes.

Run by ctest (Python.pytest) with PYTHONPATH=build/python, C8_BINARY and C8_SHARED_DIR set.
"""
import os
import subprocess
import threading

import numpy as np
import pytest

import calibr8

SHARED = os.environ.get("C8_SHARED_DIR", os.path.join(os.path.dirname(__file__), "../../../shared"))
BINARY = os.environ.get("C8_BINARY", "calibr8")
MODEL = os.path.join(SHARED, "models/mobilenet_v1_0.25_224.onnx")
IMAGES = os.path.join(SHARED, "data/imagenet-sample-500")
PRE = {"size": "224x224", "mean": "127.5", "std": "127.5", "label_offset": 1}
N = 48  # calibration images (fewer than 128: bias correction sees them all)

needs_shared = pytest.mark.skipif(not os.path.exists(MODEL), reason=MODEL + " not present")


def image_paths(first, count):
    with open(os.path.join(IMAGES, "labels.txt")) as f:
        lines = [l.split()[0] for l in f if l.strip()]
    return [os.path.join(IMAGES, p) for p in lines[first:first + count]]


def preprocess(path):
    """The shared preprocessing of mobilenet_v1_0.25 (../shared/README.md) in numpy: the images are already
    224x224, so (x - 127.5) / 127.5 in float32, HWC -> CHW. Decoding is calibr8's (stb_image), as the CLI's."""
    x = calibr8.read_image(path).astype(np.float32)
    return ((x - np.float32(127.5)) / np.float32(127.5)).transpose(2, 0, 1)


def cli_calibrate(tmp_path, *extra):
    out = str(tmp_path / "cli.onnx")
    cmd = [BINARY, "calibrate", MODEL, "--dataset", IMAGES, "--calib-range", f"0:{N}", "--size", "224x224",
           "--mean", "127.5", "--std", "127.5", "--label-offset", "1", "-o", out, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        return f.read()


@needs_shared
def test_generator_gives_the_cli_bytes(tmp_path):
    gen = (p for p in image_paths(0, N))  # a one-shot generator, as users write them
    model = calibr8.calibrate(calibr8.load(MODEL), calibr8.Dataset(gen, preprocess), preprocess=PRE)
    out = tmp_path / "py.onnx"
    model.save(str(out))
    assert out.read_bytes() == cli_calibrate(tmp_path)
    assert model.to_bytes() == out.read_bytes()
    assert model.report["settings"]["preset"] == "performance"


@needs_shared
def test_options_reach_the_engine_as_the_cli_flags(tmp_path):
    seen = []
    model = calibr8.calibrate(MODEL, calibr8.Dataset(image_paths(0, N), preprocess), preset="mixed", subset="50%", seed=3,
                              ignore=["Conv_0"], preprocess=PRE, progress=lambda s, d, t: seen.append((s, d, t)))
    assert model.to_bytes() == cli_calibrate(tmp_path, "--preset", "mixed", "--subset", "50%", "--seed", "3",
                                             "--ignore", "Conv_0")
    assert ("statistics", N // 2, N // 2) in seen  # the callback saw the passes end


@needs_shared
def test_torch_dataloader_as_the_source(tmp_path):
    torch = pytest.importorskip("torch")
    data = torch.stack([torch.from_numpy(preprocess(p)) for p in image_paths(0, N)])
    labels = torch.zeros(N, dtype=torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, labels), batch_size=8, shuffle=False)
    model = calibr8.calibrate(MODEL, calibr8.Dataset(loader, lambda item: item[0]), preprocess=PRE)
    assert model.to_bytes() == cli_calibrate(tmp_path)  # batches of 8 split into images: the same samples


@needs_shared
def test_session_runs_fp32_and_int8(tmp_path):
    x = preprocess(image_paths(0, 1)[0])[None]
    fp32 = calibr8.Session(MODEL)
    assert fp32.input_names == ["input"] and fp32.output_names == ["output"]
    a = fp32.run(x)["output"]
    assert a.shape == (1, 1001) and a.dtype == np.float32
    assert not a.flags.owndata  # handed over without a copy
    # The CLI's run gives the same class for the same file and image.
    r = subprocess.run([BINARY, "run", MODEL, image_paths(0, 1)[0], "--size", "224x224", "--mean", "127.5", "--std", "127.5",
                        "--top", "1", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import json
    top = json.loads(r.stdout)[0]["top"][0]
    assert top["class"] == int(a.argmax())
    assert np.float32(top["score"]) == a[0, top["class"]]  # bit for bit: the same runtime
    int8 = calibr8.calibrate(MODEL, calibr8.Dataset(image_paths(0, N), preprocess), preprocess=PRE)
    b = calibr8.Session(int8).run({"input": x})["output"]
    cos = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    assert cos > 0.95, cos


@needs_shared
def test_sessions_run_in_threads():
    """Separate sessions run in parallel; one session shared by threads runs one call at a time. Both give the
    single-threaded outputs bit for bit."""
    s = calibr8.Session(MODEL)
    x = np.stack([preprocess(p) for p in image_paths(0, 4)])
    want = [s.run(x[i:i + 1])["output"] for i in range(4)]
    for shared in (False, True):
        got = [[] for _ in range(4)]

        def work(i):
            mine = s if shared else calibr8.Session(MODEL)
            for _ in range(20):
                got[i].append(mine.run(x[i:i + 1])["output"])
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(4):
            for g in got[i]:
                np.testing.assert_array_equal(want[i], g)


@needs_shared
def test_bad_inputs_raise_with_one_line(tmp_path):
    with pytest.raises(calibr8.Error, match="nothing-here.onnx"):
        calibr8.load(str(tmp_path / "nothing-here.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(calibr8.Error, match="junk.onnx"):
        calibr8.load(str(junk))
    model = calibr8.load(MODEL)
    with pytest.raises(calibr8.Error, match="shape"):
        calibr8.calibrate(model, [np.zeros((3, 100, 100), np.float32)])
    with pytest.raises(calibr8.Error, match="float32"):
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.uint8)])
    with pytest.raises(calibr8.Error, match="not iterable"):
        calibr8.calibrate(model, calibr8.Dataset(42))
    with pytest.raises(calibr8.Error, match="no samples"):
        calibr8.calibrate(model, [])
    with pytest.raises(calibr8.Error, match="preset"):
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)], preset="fast")
    with pytest.raises(ZeroDivisionError):  # the user's own transform error comes through as it is
        calibr8.calibrate(model, calibr8.Dataset([1], lambda item: item / 0))
    s = calibr8.Session(model)
    with pytest.raises(calibr8.Error, match="no input 'x'"):
        s.run({"x": np.zeros((1, 3, 224, 224), np.float32)})
    with pytest.raises(calibr8.Error):
        s.run(np.zeros((1, 3, 100, 100), np.float32))
    with pytest.raises(calibr8.Error):
        s.run(np.zeros((1, 3, 224, 224), np.complex64))
    with pytest.raises(calibr8.Error, match="no-such-dir.* does not exist"):
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)]).save(str(tmp_path / "no-such-dir" / "x.onnx"))
    assert not (tmp_path / "no-such-dir").exists()
    with pytest.raises(calibr8.Error, match="not a regular file"):  # never a device, even for root
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)]).save("/dev/null")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    with pytest.raises(calibr8.Error, match="NaN or Inf"):
        calibr8.calibrate(model, [np.full((3, 224, 224), np.nan, np.float32)])
    with pytest.raises(calibr8.Error, match="std"):
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)], preprocess={"std": "0"})
    with pytest.raises(calibr8.Error, match="seed"):
        calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)], seed=-1)
    with pytest.raises(calibr8.Error, match="no model"):
        calibr8.Session(None)
    with pytest.raises(calibr8.Error, match="empty"):
        calibr8.load("")
    with pytest.raises(calibr8.Error, match="seconds"):
        calibr8.compare(MODEL, MODEL, IMAGES, seconds=float("inf"))

    class ArrayOnce:  # converts once, then fails: bench converts its inputs twice
        n = 0

        def __array__(self, dtype=None, copy=None):
            ArrayOnce.n += 1
            if ArrayOnce.n > 1:
                raise ValueError("no more")
            return np.zeros((1, 3, 224, 224), np.float32)
    with pytest.raises((calibr8.Error, ValueError)):
        calibr8.Session(model).bench(ArrayOnce(), seconds=0.1)
    # A single name for ignore is one name, not its letters.
    q = calibr8.calibrate(model, [np.zeros((3, 224, 224), np.float32)], ignore="Conv_0")
    assert q.report["settings"]["ignore"] == ["Conv_0"]


def labelled(first, count):
    """(path, class index) of shared images, the class as the model numbers it (label offset 1)."""
    with open(os.path.join(IMAGES, "labels.txt")) as f:
        rows = [l.split() for l in f if l.strip()]
    return [(os.path.join(IMAGES, p), int(c) + 1) for p, c in rows[first:first + count]]


@needs_shared
def test_accuracy_aware_matches_the_cli(tmp_path):
    """From a weak start (per-tensor weights), with the user's data and the built-in top-1: the same decisions and
    the same file as `calibrate --method accuracy-aware` on the same images."""
    calib = calibr8.Dataset(image_paths(0, N), preprocess)
    val = calibr8.Dataset(labelled(200, 60), lambda item: preprocess(item[0]), label=lambda item: item[1])
    model = calibr8.calibrate(MODEL, calib, method="accuracy-aware", validation=val, metric="top1", max_drop=0.02,
                              weight_granularity="per-tensor", preprocess=PRE)
    aa = model.report["accuracy_aware"]
    assert aa["met"] and aa["final"] >= aa["fp32"] - 0.02 - 1e-9
    assert aa["reverted"], "per-tensor weights leave work for the method"
    cli = cli_calibrate(tmp_path, "--method", "accuracy-aware", "--weight-granularity", "per-tensor",
                        "--validate-range", "200:260", "--max-drop", "2")
    assert model.to_bytes() == cli


@needs_shared
def test_accuracy_aware_with_a_metric_function():
    calib = calibr8.Dataset(image_paths(0, N), preprocess)
    val = calibr8.Dataset(labelled(200, 20), lambda item: preprocess(item[0]))
    calls = []

    def agree(outputs, item):  # any per-sample score: here top-1 against the label
        calls.append(item[0])
        return float(np.argmax(outputs["output"]) == item[1])
    model = calibr8.calibrate(MODEL, calib, method="accuracy-aware", validation=val, metric=agree, max_drop=1.0)
    assert model.report["accuracy_aware"]["met"]  # a bound of 100 points: met by Default at once
    assert len(calls) >= 40 and set(calls) == {p for p, _ in labelled(200, 20)}  # FP32 and Default, every item
    with pytest.raises(calibr8.Error, match="must return a number"):
        calibr8.calibrate(MODEL, calib, method="accuracy-aware", validation=val, metric=lambda o, i: "good")
    with pytest.raises(calibr8.Error, match="one sample each"):
        batch = calibr8.Dataset([np.zeros((2, 3, 224, 224), np.float32)])
        calibr8.calibrate(MODEL, calib, method="accuracy-aware", validation=batch, metric=lambda o, i: 1.0)
    with pytest.raises(calibr8.Error, match="label="):
        calibr8.calibrate(MODEL, calib, method="accuracy-aware", validation=val, metric="top1")


@needs_shared
def test_bench_reports_as_the_cli():
    s = calibr8.Session(MODEL)
    r = s.bench(np.zeros((1, 3, 224, 224), np.float32), seconds=0.2, warmup=1)
    assert r["runs"] >= 3 and 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"]
    assert abs(r["throughput_ips"] - 1000.0 / r["median_ms"]) < 1e-6


@needs_shared
def test_compare_gives_the_cli_report(tmp_path):
    import json
    int8 = calibr8.calibrate(MODEL, calibr8.Dataset(image_paths(0, N), preprocess), preprocess=PRE)
    int8.save(str(tmp_path / "q.onnx"))
    py = calibr8.compare(MODEL, int8, IMAGES, range="200:216", seconds=0, layer_images=4)
    r = subprocess.run([BINARY, "compare", MODEL, str(tmp_path / "q.onnx"), "--dataset", IMAGES, "--range", "200:216",
                        "--no-speed", "--layer-images", "4", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    assert py["accuracy"] == cli["accuracy"] and py["accuracy"]["images"] == 16
    assert [(x["node"], x["precision"], x["cosine"]) for x in py["layers"]["rows"]] == \
           [(x["node"], x["precision"], x["cosine"]) for x in cli["layers"]["rows"]]
    with pytest.raises(calibr8.Error, match="no-such-folder"):
        calibr8.compare(MODEL, int8, str(tmp_path / "no-such-folder"))
