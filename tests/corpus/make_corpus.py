#!/usr/bin/python3
"""Writes the malformed-input corpus of tests/corpus (run from anywhere):

    /usr/bin/python3 tests/corpus/make_corpus.py

Every case is a small file or folder a careless or hostile user could hand to
calibr8, with what must happen: exit 1 and one line on stderr holding every
`expect` string (the file, and the node where there is one). cases.json lists
them; tests/cli/corpus_test.cc runs every command that reads that kind of
input over each case and also checks that nothing is created or changed and
that time and memory stay bounded. valid/ holds the good inputs the commands
need beside the bad one. The fuzz targets' kept inputs live in fuzz/.
Output is deterministic (fixed seeds, no timestamps).
"""
import gzip
import io
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.dirname(os.path.abspath(__file__))
cases = []


def path(*p):
    full = os.path.join(ROOT, *p)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def write(rel, data):
    with open(path(rel), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def case(kind, rel, expect, why, info=None):
    """`info`: for a model `info` describes rather than refuses (ops calibr8
    cannot run, an input that is no image): a line its stdout must hold."""
    c = {"kind": kind, "path": rel, "expect": expect, "why": why}
    if info:
        c["info"] = info
    cases.append(c)


# ---------------------------------------------------------------- good inputs
def pgm(w, h, seed):
    rng = np.random.default_rng(seed)
    return b"P5 %d %d 255\n" % (w, h) + rng.integers(0, 256, w * h, dtype=np.uint8).tobytes()


write("valid/set/a.pgm", pgm(28, 28, 1))
write("valid/set/b.pgm", pgm(28, 28, 2))
write("valid/set/labels.txt", "a.pgm 0\nb.pgm 1\n")
write("valid/img.pgm", pgm(28, 28, 3))


def conv_model(conv_attrs=None, pool=None, opset=13, extra_nodes=None, domain_ops=None, name="net"):
    """1x1x28x28 -> Conv(4, 3x3) -> Relu -> [pool] -> GlobalAveragePool -> Flatten -> Gemm(10)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    fw = numpy_helper.from_array(rng.standard_normal((10, 4)).astype(np.float32), "fw")
    fb = numpy_helper.from_array(np.zeros(10, np.float32), "fb")
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    attrs.update(conv_attrs or {})
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv1", **attrs),
             helper.make_node("Relu", ["c"], ["r"], name="relu1")]
    last = "r"
    if pool:
        op, pattrs = pool
        nodes.append(helper.make_node(op, [last], ["p"], name="pool1", **pattrs))
        last = "p"
    nodes += [helper.make_node("GlobalAveragePool", [last], ["g"], name="gap"),
              helper.make_node("Flatten", ["g"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    nodes += extra_nodes or []
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w, b, fw, fb])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in (domain_ops or [])]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="calibr8-corpus")
    m.ir_version = 8
    return m


def save(rel, m):
    write(rel, m.SerializeToString())


save("valid/net.onnx", conv_model())
good = conv_model().SerializeToString()

# ---------------------------------------------------------------- models
write("models/empty.onnx", b"")
case("model", "models/empty.onnx", ["empty.onnx"], "0-byte file")
write("models/truncated.onnx", good[: len(good) // 2])
case("model", "models/truncated.onnx", ["truncated.onnx"], "half of a valid model")
write("models/random.onnx", np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
case("model", "models/random.onnx", ["random.onnx"], "random bytes")
write("models/text.onnx", "this is not a model\n")
case("model", "models/text.onnx", ["text.onnx"], "text")
write("models/png_named.onnx", open(path("valid/img.pgm"), "rb").read())
case("model", "models/png_named.onnx", ["png_named.onnx"], "an image with an .onnx name")

for op, extra in (("Conv", None), ("MaxPool", ("MaxPool", {"kernel_shape": [2, 2], "strides": [0, 0]})),
                  ("AveragePool", ("AveragePool", {"kernel_shape": [2, 2], "strides": [0, 0]}))):
    rel = "models/zero_stride_%s.onnx" % op.lower()
    if op == "Conv":
        save(rel, conv_model(conv_attrs={"strides": [0, 0]}))
        node = "conv1"
    else:
        save(rel, conv_model(pool=extra))
        node = "pool1"
    case("model", rel, [os.path.basename(rel), node, "stride"], "strides=[0,0] (ONNX shape inference divides by it: SIGFPE)")
save("models/huge_kernel.onnx", conv_model(pool=("MaxPool", {"kernel_shape": [100000, 100000]})))
case("model", "models/huge_kernel.onnx", ["huge_kernel.onnx", "pool1"], "kernel larger than the input")
save("models/negative_pads.onnx", conv_model(conv_attrs={"pads": [-2, -2, -2, -2]}))
case("model", "models/negative_pads.onnx", ["negative_pads.onnx", "conv1"], "negative pads")
save("models/zero_dilation.onnx", conv_model(conv_attrs={"dilations": [0, 0]}))
case("model", "models/zero_dilation.onnx", ["zero_dilation.onnx", "conv1"], "dilations=[0,0]")
save("models/wrong_kernel_shape.onnx", conv_model(conv_attrs={"kernel_shape": [5, 5]}))
case("model", "models/wrong_kernel_shape.onnx", ["wrong_kernel_shape.onnx", "conv1"], "kernel_shape disagrees with the weights")

save("models/opset99.onnx", conv_model(opset=99))
case("model", "models/opset99.onnx", ["opset99.onnx", "opset 99"], "an opset no ONNX release has")
m = conv_model(domain_ops=["com.example"])
m.graph.node.insert(2, helper.make_node("Mystery", ["r"], ["r2"], name="mystery1", domain="com.example"))
m.graph.node[3].input[0] = "r2"
save("models/unknown_domain.onnx", m)
case("model", "models/unknown_domain.onnx", ["unknown_domain.onnx", "mystery1"], "an op of an unknown domain", info="calibratable no: 1 unsupported node")
m = conv_model()
m.graph.node[1].op_type = "NoSuchOp"
save("models/unknown_op.onnx", m)
case("model", "models/unknown_op.onnx", ["unknown_op.onnx", "relu1"], "an op ONNX does not have", info="calibratable no: 1 unsupported node")

m = conv_model()
m.graph.node[1].input[0] = "nowhere"
save("models/dangling_input.onnx", m)
case("model", "models/dangling_input.onnx", ["dangling_input.onnx", "nowhere"], "a node reads a value nothing produces")
m = conv_model()
m.graph.node[0].input[0] = "r"  # conv1 reads relu1's output, relu1 reads conv1's: a cycle
save("models/cycle.onnx", m)
case("model", "models/cycle.onnx", ["cycle.onnx"], "a cycle")
m = conv_model()
m.graph.node[1].output[0] = "c"
save("models/duplicate_output.onnx", m)
case("model", "models/duplicate_output.onnx", ["duplicate_output.onnx", "'c'"], "two nodes write one value")
m = conv_model()
m.graph.node[0].output.append("c")  # found by fuzzing: read past the node list
save("models/output_listed_twice.onnx", m)
case("model", "models/output_listed_twice.onnx", ["output_listed_twice.onnx", "conv1", "twice"], "a node lists one output twice")
m = conv_model()
del m.graph.output[:]
save("models/no_outputs.onnx", m)
case("model", "models/no_outputs.onnx", ["no_outputs.onnx", "output"], "a graph without outputs")
m = conv_model()
m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:20]
save("models/short_initializer.onnx", m)
case("model", "models/short_initializer.onnx", ["short_initializer.onnx", "'w'"], "raw_data shorter than the dims say")
m = conv_model()
m.graph.initializer[0].dims[:] = [4, 1, -3, 3]
save("models/negative_dim_initializer.onnx", m)
case("model", "models/negative_dim_initializer.onnx", ["negative_dim_initializer.onnx", "'w'"], "an initializer with a negative dim")


def external(rel, location, offset=None, length=None):
    m = conv_model()
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    save(rel, m)


external("models/external_missing.onnx", "missing.bin")
case("model", "models/external_missing.onnx", ["external_missing.onnx", "missing.bin"], "external data file absent")
external("models/external_escape.onnx", "../../../../../../etc/passwd")
case("model", "models/external_escape.onnx", ["external_escape.onnx", "'w'"], "external data outside the model's folder")
write("models/weights.bin", b"\0" * 144)
external("models/external_offset_overflow.onnx", "weights.bin", offset=2**63 - 8, length=144)
case("model", "models/external_offset_overflow.onnx", ["external_offset_overflow.onnx", "'w'"], "offset + length wraps around")
external("models/external_short.onnx", "weights.bin", offset=100, length=144)
case("model", "models/external_short.onnx", ["external_short.onnx", "'w'"], "external data shorter than its tensor")

m = conv_model()
shape = numpy_helper.from_array(np.array([2**62, 2**62, -1], np.int64), "huge_shape")
m.graph.initializer.append(shape)
m.graph.node.insert(3, helper.make_node("Reshape", ["g", "huge_shape"], ["g2"], name="reshape_wrap"))
m.graph.node[4].input[0] = "g2"
save("models/reshape_wraps.onnx", m)
case("model", "models/reshape_wraps.onnx", ["reshape_wraps.onnx", "reshape_wrap"], "a Reshape whose element count wraps around int64")

m = conv_model()
m.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 0
m.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 0
save("models/zero_size_input.onnx", m)
case("model", "models/zero_size_input.onnx", ["zero_size_input.onnx"], "an input of 0x0 pixels", info="calibratable no: input 'x'")
m = conv_model()
m.graph.input[0].type.tensor_type.elem_type = TensorProto.STRING
save("models/string_input.onnx", m)
case("model", "models/string_input.onnx", ["string_input.onnx"], "a string input", info="calibratable no: input 'x'")
m = conv_model()
helper.set_model_props(m, {"calibr8.preprocess": "{\"mean\": [1, 2"})
save("models/bad_metadata.onnx", m)
case("model", "models/bad_metadata.onnx", ["bad_metadata.onnx", "calibr8.preprocess"], "truncated JSON in calibr8.preprocess metadata")
m = conv_model()
helper.set_model_props(m, {"calibr8.preprocess": "[" * 100000})
save("models/deep_metadata.onnx", m)
case("model", "models/deep_metadata.onnx", ["deep_metadata.onnx", "calibr8.preprocess"], "100000 nested brackets in metadata")
# Found by fuzzing: ONNX 1.12's ConvTranspose shape inference read past X's
# dims when X has rank 2 (SIGSEGV in every command).
wt = numpy_helper.from_array(np.zeros((1, 2, 3, 3), np.float32), "wt")
g = helper.make_graph([helper.make_node("ConvTranspose", ["x", "wt"], ["y"], name="deconv1", auto_pad="SAME_UPPER")], "ct",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 784])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [wt])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)], producer_name="calibr8-corpus")
m.ir_version = 8
save("models/convtranspose_rank2.onnx", m)
case("model", "models/convtranspose_rank2.onnx", ["convtranspose_rank2.onnx"], "ConvTranspose of a rank-2 input",
     info="calibratable no: input 'x'")
# Found by fuzzing: an ArgMax without inputs was folded as a constant and
# read inputs[0]; ONNX 1.12's inference crashed on a LayerNormalization of a
# scalar (now run in a child process).
m = conv_model()
m.graph.node.append(helper.make_node("ArgMax", [], ["am"], name="argmax_noinput"))
m.graph.output.append(helper.make_tensor_value_info("am", TensorProto.INT64, None))
save("models/argmax_no_inputs.onnx", m)
case("model", "models/argmax_no_inputs.onnx", ["argmax_no_inputs.onnx", "argmax_noinput", "0 inputs"], "an ArgMax without inputs")
m = conv_model(opset=17)
ln_w = numpy_helper.from_array(np.ones(10, np.float32), "ln_w")
m.graph.initializer.append(ln_w)
m.graph.node.append(helper.make_node("ReduceSum", ["y"], ["s"], name="sum_all", keepdims=0))
m.graph.node.append(helper.make_node("LayerNormalization", ["s", "ln_w"], ["ln"], name="ln_scalar"))
m.graph.output.append(helper.make_tensor_value_info("ln", TensorProto.FLOAT, None))
save("models/layernorm_scalar.onnx", m)
case("model", "models/layernorm_scalar.onnx", ["layernorm_scalar.onnx", "ln_scalar"],
     "LayerNormalization of a scalar (crashed ONNX's inference)")
m = conv_model()
m.graph.node.append(helper.make_node("NonMaxSuppression", ["y", "y"], ["nms"], name="nms1"))
m.graph.output.append(helper.make_tensor_value_info("nms", TensorProto.INT64, None))
save("models/unsupported_op.onnx", m)
case("model", "models/unsupported_op.onnx", ["unsupported_op.onnx", "nms1"], "an ONNX op calibr8 does not run", info="calibratable no: 1 unsupported node")

# ---------------------------------------------------------------- images
png = io.BytesIO()
Image.fromarray(np.random.default_rng(4).integers(0, 256, (28, 28), dtype=np.uint8)).save(png, "PNG")
png = png.getvalue()
jpg = io.BytesIO()
Image.fromarray(np.random.default_rng(5).integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(jpg, "JPEG", quality=90)
jpg = jpg.getvalue()
bmp = io.BytesIO()
Image.fromarray(np.random.default_rng(6).integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(bmp, "BMP")
bmp = bmp.getvalue()

write("images/empty.png", b"")
case("image", "images/empty.png", ["empty.png"], "0-byte image")
write("images/truncated.png", png[: len(png) // 2])
case("image", "images/truncated.png", ["truncated.png"], "half a PNG")
write("images/truncated.jpg", jpg[: len(jpg) // 3])
case("image", "images/truncated.jpg", ["truncated.jpg"], "a third of a JPEG")
write("images/truncated.bmp", bmp[: len(bmp) // 2])
case("image", "images/truncated.bmp", ["truncated.bmp"], "half a BMP")
write("images/truncated.ppm", b"P6 28 28 255\n" + b"\x80" * 100)
case("image", "images/truncated.ppm", ["truncated.ppm"], "a PPM with 100 of its 2352 bytes")
write("images/truncated.pgm", b"P5 28 28 255\n" + b"\x80" * 100)
case("image", "images/truncated.pgm", ["truncated.pgm"], "a PGM with 100 of its 784 bytes")
write("images/text.jpg", "not an image\n")
case("image", "images/text.jpg", ["text.jpg"], "text named .jpg")
huge = bytearray(png)
struct.pack_into(">II", huge, 16, 30000, 30000)  # IHDR width/height (CRC left wrong on purpose)
write("images/huge_header.png", bytes(huge))
case("image", "images/huge_header.png", ["huge_header.png", "too large"], "a PNG header claiming 30000x30000")
write("images/zero_size.pgm", b"P5 0 0 255\n")
case("image", "images/zero_size.pgm", ["zero_size.pgm"], "a 0x0 PGM")
write("images/maxval_zero.pgm", b"P5 2 2 0\n\0\0\0\0")
case("image", "images/maxval_zero.pgm", ["maxval_zero.pgm"], "PGM maxval 0")
pic = b"\x53\x80\xf6\x34" + b"\0" * 84 + b"PICT" + b"\x00\x04\x00\x04" + b"\0" * 8 + b"\x00\x08\x00\xf0" + b"\0" * 40
write("images/pic_header.png", pic)
case("image", "images/pic_header.png", ["pic_header.png", "unsupported image format"], "a Softimage PIC (crashed stb_image)")
neg = bytearray(bmp)
struct.pack_into("<i", neg, 18, -28)  # negative width
write("images/negative_width.bmp", bytes(neg))
case("image", "images/negative_width.bmp", ["negative_width.bmp"], "a BMP with width -28")
# Found by fuzzing: an unknown compression code made stb_image read 160 bytes
# as 67590x1280 raw rows (9 s, 1.3 GB).
write("images/bmp_unknown_compression.bmp",
      bytes.fromhex("424dd6000000000100183600000028000000060801000005000001001800") + b"\xe1" * 4 + bytes(126))
case("image", "images/bmp_unknown_compression.bmp", ["bmp_unknown_compression.bmp", "compression"],
     "a BMP header declaring 67590x1280 with an unknown compression code")

# ---------------------------------------------------------------- data sets
def dataset(name, files, expect, why):
    for rel, data in files.items():
        write("datasets/%s/%s" % (name, rel), data)
    case("dataset", "datasets/" + name, expect, why)


a = pgm(28, 28, 8)
dataset("labels_missing_image", {"labels.txt": "a.pgm 0\nnope.pgm 1\n", "a.pgm": a},
        ["labels.txt:2", "nope.pgm"], "labels.txt names an image that is not there")
dataset("labels_bad_index", {"labels.txt": "a.pgm cat\n", "a.pgm": a}, ["labels.txt:1", "cat"], "a class index that is not a number")
dataset("labels_negative", {"labels.txt": "a.pgm -1\n", "a.pgm": a}, ["labels.txt:1"], "a negative class index")
dataset("labels_huge_index", {"labels.txt": "a.pgm 99999999999999999999\n", "a.pgm": a}, ["labels.txt:1"], "a class index past int64")
dataset("labels_beyond_classes", {"labels.txt": "a.pgm 5\n", "classes.txt": "cat\ndog\n", "a.pgm": a},
        ["labels.txt:1", "out of range"], "a class index past classes.txt")
dataset("labels_no_index", {"labels.txt": "a.pgm\n", "a.pgm": a}, ["labels.txt:1"], "a line without a class index")
dataset("labels_junk", {"labels.txt": b"a.pgm \x1b[2J\x07\xff\x01\n", "a.pgm": a}, ["labels.txt:1"], "binary junk")
dataset("labels_escape", {"labels.txt": "../../../../../../../../etc/hostname 0\n", "a.pgm": a},
        ["hostname"], "an image path outside the data set")
dataset("labels_only_comments", {"labels.txt": "# nothing\n\n", "a.pgm": a}, ["labels_only_comments", "no images"], "labels.txt lists no image")
dataset("corrupt_image", {"labels.txt": "a.pgm 0\nbad.png 1\n", "a.pgm": a, "bad.png": png[:40]},
        ["bad.png"], "one corrupt image among good ones")
dataset("list_missing_annotation", {"list.txt": "a.pgm ann/a.xml\n", "a.pgm": a}, ["list.txt:1", "a.xml"], "list.txt names an absent annotation")
dataset("list_vertical_tab", {"list.txt": "\x0b\n", "a.pgm": a}, ["list_vertical_tab", "no images"],
        "a list.txt line of only a vertical tab (found by fuzzing: crashed)")
dataset("no_images", {"notes.txt": "nothing here\n"}, ["no_images", "no images"], "a folder without images")


def idx_images(n, h, w, data=None):
    head = struct.pack(">IIII", 0x803, n, h, w)
    return head + (data if data is not None else bytes(n * h * w))


def idx_labels(n, labels=None):
    return struct.pack(">II", 0x801, n) + (labels if labels is not None else bytes(n))


dataset("idx_declared_huge", {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_images(1000000000, 28, 28, b"\0" * 1000), mtime=0)},
        ["t10k-images-idx3-ubyte.gz"], "an IDX header declaring 784 GB")
dataset("idx_truncated", {"t10k-images-idx3-ubyte": idx_images(10, 28, 28, b"\0" * 1000)}, ["t10k-images-idx3-ubyte"], "IDX shorter than declared")
dataset("idx_bad_magic", {"t10k-images-idx3-ubyte": b"\0\0\x08\x99" + idx_images(1, 28, 28)[4:]}, ["t10k-images-idx3-ubyte"], "wrong IDX magic")
dataset("idx_label_count", {"t10k-images-idx3-ubyte": idx_images(2, 28, 28), "t10k-labels-idx1-ubyte": idx_labels(3)},
        ["t10k-labels-idx1-ubyte"], "3 labels for 2 images")
dataset("idx_bad_gzip", {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_images(2, 28, 28), mtime=0)[:30]},
        ["t10k-images-idx3-ubyte.gz"], "a cut gzip stream")

# ---------------------------------------------------------------- preprocessing configs
for name, text, expect, why in (
        ("not_json.json", "size: 28x28\n", ["not_json.json"], "YAML, not JSON"),
        ("deep.json", "[" * 100000, ["deep.json", "deeper"], "100000 nested brackets"),
        ("unknown_key.json", '{"sise": "28x28"}', ["unknown_key.json", "sise"], "a misspelt key"),
        ("mean_count.json", '{"mean": [1, 2, 3, 4, 5]}', ["mean_count.json", "mean"], "5 means for a 1-channel model"),
        ("std_zero.json", '{"std": 0}', ["std_zero.json", "std"], "division by zero"),
        ("size_negative.json", '{"size": "-28x28"}', ["size_negative.json", "size"], "a negative size"),
        ("size_huge.json", '{"size": "99999999999x28"}', ["size_huge.json", "size"], "a size past int"),
        ("layout_bad.json", '{"layout": "nwhc"}', ["layout_bad.json", "layout"], "an unknown layout"),
        ("label_offset_huge.json", '{"label_offset": 3000000000}', ["label_offset_huge.json", "label_offset"], "an offset past int"),
        ("wrong_type.json", '{"resize": "big"}', ["wrong_type.json", "resize"], "a string where a number goes")):
    write("configs/" + name, text)
    case("config", "configs/" + name, expect, why)

# ---------------------------------------------------------------- fuzz seeds
# Valid inputs the fuzz targets (tests/fuzz) start from; scripts/fuzz.sh adds
# more from installed packages. Findings are added to fuzz/<target>/ by hand.
def seed(target, name, data):
    write("fuzz/%s/seed_%s" % (target, name), data)


seed("onnx_import", "net.onnx", good)
for rel in ("models/zero_stride_conv.onnx", "models/reshape_wraps.onnx", "models/external_short.onnx",
            "models/unknown_domain.onnx"):
    seed("onnx_import", os.path.basename(rel), open(path(rel), "rb").read())
small = np.random.default_rng(9).integers(0, 256, (8, 6, 3), dtype=np.uint8)
for fmt, ext, mode in (("PNG", "png", "RGB"), ("PNG", "gray.png", "L"), ("JPEG", "jpg", "RGB"), ("BMP", "bmp", "RGB"),
                       ("PPM", "ppm", "RGB"), ("PPM", "pgm", "L")):
    buf = io.BytesIO()
    img = Image.fromarray(small)
    img.convert(mode).save(buf, fmt)
    seed("image", ext, buf.getvalue())
seed("text_dataset", "labels", b"\x00a.pgm 0\nsub/b.pgm 1\n----\ncat\ndog\n")
seed("text_dataset", "labels_wnid", b"\x00# comment\n\na.pgm 1\n----\nn01440764 tench\nn01443537 goldfish\n")
seed("text_dataset", "list", b"\x01a.pgm\nsub/b.pgm a.pgm\n")
imgs = idx_images(3, 2, 2, bytes(range(12)))
labs = idx_labels(3, bytes([0, 1, 2]))
seed("idx", "plain", b"\x00" + imgs + b"\n----\n" + labs)
seed("idx", "gz", b"\x03" + gzip.compress(imgs, mtime=0) + b"\n----\n" + gzip.compress(labs, mtime=0))
seed("idx", "unlabelled", b"\x00" + imgs)
for i, text in enumerate(('{"size": "28x28", "mean": [1, 2, 3], "std": "1,2,3", "layout": "nhwc", "color": "bgr", "label_offset": 1}',
                          '{"resize": 256, "crop": 224, "mean": 127.5, "std": 127.5}', '{"size": 32}')):
    seed("json_config", "%d.json" % i, text)

with open(path("cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print("corpus: %d cases" % len(cases), file=sys.stderr)
