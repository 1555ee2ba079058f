"""Quantize a torchvision model to INT8 with calibr8 from Python, fed by a torch DataLoader.

    PYTHONPATH=build/python /usr/bin/python3 examples/quantize_torchvision.py IMAGE_FOLDER [OUT.onnx]

IMAGE_FOLDER holds the calibration images (any layout: every .jpg / .png below it). The model here is
torchvision's resnet18 with the weights it is built with; put your trained model in its place.
"""
import pathlib
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

import calibr8

folder = pathlib.Path(sys.argv[1])
out = sys.argv[2] if len(sys.argv) > 2 else "resnet18_int8.onnx"

# 1. The FP32 model as ONNX (batch 1, as it will be deployed).
torch.manual_seed(0)
net = torchvision.models.resnet18().eval()
torch.onnx.export(net, torch.zeros(1, 3, 224, 224), "resnet18.onnx", input_names=["input"], output_names=["logits"],
                  opset_version=13)

# 2. The calibration images through the usual torchvision transforms and a DataLoader.
transform = torchvision.transforms.Compose([
    torchvision.transforms.Resize(256), torchvision.transforms.CenterCrop(224), torchvision.transforms.ToTensor(),
    torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


class Images(torch.utils.data.Dataset):
    def __init__(self, root):
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return transform(Image.open(self.files[i]).convert("RGB"))


loader = torch.utils.data.DataLoader(Images(folder), batch_size=16)

# 3. Calibrate (Default method, performance preset) on 300 of them, and save the QDQ model.
t = time.time()
int8 = calibr8.calibrate("resnet18.onnx", calibr8.Dataset(loader), subset=300, threads=2)
int8.save(out)
print(f"calibrated in {time.time() - t:.1f} s -> {out}")

# 4. Run both on one image: the INT8 model's logits against FP32's.
x = next(iter(loader))[:1].numpy()
a = calibr8.Session("resnet18.onnx").run(x)["logits"]
b = calibr8.Session(int8).run(x)["logits"]
cos = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
print(f"FP32 class {a.argmax()}, INT8 class {b.argmax()}, output cosine {cos:.4f}")
