#pragma once
// Image -> model input tensor pre-processing.
//
// Pipeline for one image (all arithmetic in float, no intermediate rounding):
//   1. channel conversion to the model's channel count: RGB -> gray uses ITU-R
//      BT.601 luma (0.299 R + 0.587 G + 0.114 B, not rounded); gray -> RGB replicates.
//   2. geometry, one of
//        --size WxH          stretch to exactly W x H (aspect ratio ignored)
//        --resize N          shorter side to N, longer side = floor(long * N / short)
//                            (torchvision Resize(int) convention), then optionally
//        --crop N            center crop N x N, offsets floor((dim - N) / 2)
//      (resize and crop may each be used alone). With none of them, an image
//      whose size differs from the model input is stretched to the model size.
//      The result must equal the model input size, otherwise an Error is thrown.
//   3. optional RGB -> BGR swap (color = "bgr"),
//   4. x = (v - mean[c]) / std[c], mean/std in 0..255 pixel units, indexed by
//      *model* input channel (i.e. after the BGR swap, as in caffe-style means),
//   5. written as C*H*W (layout "nchw") or H*W*C (layout "nhwc").
//
// Bilinear resampling has OpenCV cv::resize INTER_LINEAR semantics: half-pixel
// centres, src = (dst + 0.5) * (in / out) - 0.5, clamped at 0 and at the last
// pixel, no antialiasing when down-scaling (so it differs from PIL's
// Image.resize, which filters). It is computed in float like the shared numpy
// reference (tools/eval_detection_fastestdet.py resize_linear), not with
// OpenCV's 11-bit fixed-point weights, so values match that reference to ~1e-4.
// Same-size "resizes" are exact copies.
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

#include "eval/image.h"

namespace c8 {

struct Preprocess {
  int resize = 0;                       // --resize N: shorter side to N (bilinear), then
  int crop = 0;                         // --crop N: center crop NxN
  int width = 0, height = 0;            // --size WxH: stretch to exactly WxH
  std::vector<float> mean{0}, std{1};   // 0..255 pixel units, 1 or C values
  std::string layout = "nchw";          // or "nhwc"
  std::string color = "rgb";            // or "bgr"
  int label_offset = 0;                 // model output index = class index + offset
  // Detection: what the model's class ids are. "" = the data set's class index
  // (+ label_offset); "coco" = COCO category ids (1..90: torchvision's and the
  // TF Object Detection API's detectors), mapped to the data set's classes by name.
  std::string label_ids;
};

// Throws c8::Error (message starts with "preprocess: ") for inconsistent
// settings: negative sizes, --size combined with --resize/--crop, mean/std
// count not 1 or C, std == 0 or non-finite, unknown layout/color, channels not
// 1 or 3. Called by preprocess_into; call it up front to fail before any work.
void validate_preprocess(const Preprocess& p, int model_channels);

// The (width, height) the geometric steps produce for an input of in_w x in_h
// (before the comparison with the model size). Throws if crop > resized size.
std::pair<int, int> preprocessed_size(const Preprocess& p, int in_w, int in_h, int out_w, int out_h);

// Step 2 in detail for an in_w x in_h image: the size it is resized (or
// stretched) to, where the crop starts in it, and the size that results.
struct PreprocessWindow {
  int resized_w = 0, resized_h = 0, crop_x = 0, crop_y = 0, width = 0, height = 0;
};
PreprocessWindow preprocess_window(const Preprocess& p, int in_w, int in_h, int out_w, int out_h);

// Writes one sample (model_channels * out_h * out_w floats) into dst.
void preprocess_into(const Image& img, const Preprocess& p, int model_channels, int out_h, int out_w,
                     float* dst);

// Bilinear (INTER_LINEAR semantics above) resize of an HWC float image.
std::vector<float> resize_bilinear(const float* src, int in_w, int in_h, int channels, int out_w,
                                   int out_h);

// Keys: "resize", "crop" (ints), "size" ("WxH", "N" or an int N), "mean"/"std"
// (number, array of numbers or "a,b,c"), "layout", "color", "label_offset", "label_ids".
// Unknown keys or wrong types -> c8::Error naming the key.
Preprocess preprocess_from_json(const nlohmann::json& j);
nlohmann::json preprocess_to_json(const Preprocess& p);

// "224x224" -> {224, 224} (width, height); "224" -> {224, 224}. Throws on junk or <= 0.
std::pair<int, int> parse_size(const std::string& s);
// "127.5" or "123.7,116.3,103.5" (spaces allowed) -> floats. Throws on junk / empty.
std::vector<float> parse_floats(const std::string& s);

}  // namespace c8
