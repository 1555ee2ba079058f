#pragma once
// Activation equalization into depthwise layers.
//
// A depthwise convolution reads its input per channel, but the activation
// quantizer in front of it has one scale for the whole tensor: a channel whose
// values span 0..0.2 next to one spanning 0..6 keeps 8 of the 256 levels. The
// shared mobilenet_v1_0.25 loses most of its INT8 accuracy this way (its first
// depthwise layers alone take the output's cosine to 0.979).
//
// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through
// Weight Equalization and Bias Correction", 2019; AIMET and NNCF's CLE) moves
// a per-channel factor from one layer into the next. Here the factor is chosen
// from the measured activation ranges, and the transform is exact:
//
//     P (Conv/Gemm, constant weight) -> [Relu | Clip(0, b)] -> v -> D (depthwise)
//
// channel c of P's weight and bias is multiplied by s_c > 0 and channel c of
// D's weight divided by s_c. Relu commutes with a positive factor; Clip(0, b)
// does for every value s_c * x <= b, and s_c = R / r_c (r_c the channel's
// largest value on the calibration images, R the largest of all channels,
// R <= b) keeps every observed value there. So the FP32 function is unchanged
// on everything the calibration saw, and every channel of v spans the whole
// range of its quantizer. With per-channel weight quantization (the default)
// the factors are absorbed by the weight scales, so the weights lose nothing;
// with per-tensor weights a layer is left alone (the factors would spread its
// weight range instead).
//
// A value the calibration never saw above r_c is clipped at b * r_c / R in
// FP32 terms, which is where the INT8 grid saturates it anyway (R maps to the
// top of the grid); the factor is capped at kMaxEqualizeFactor so a channel
// that was nearly silent on the calibration images is not blown up to the
// full range on the strength of a few values.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace c8 {

constexpr double kMaxEqualizeFactor = 32.0;

// Below this many calibration images the channel maxima are not trusted and
// nothing is equalized. deeplabv3 calibrated on its first image and compared
// on the other two: output cosine 0.9996 without, 0.9906 with equalization
// (unseen values above a channel's one-image maximum saturate); mobilenet_v1_0.25
// on 32 images, held-out 200:500: 0.9723 without, 0.9764 with (calibr8's fused
// runtime 0.958 -> 0.978); on 200 images 0.9746 -> 0.9802 (0.964 -> 0.975).
// Leaving headroom instead (factors R / (h r_c)) gave the mobilenet gain back
// already at h = 1.1 (0.9768) and h = 1.5 (0.9754).
constexpr size_t kMinEqualizeImages = 32;

struct EqualizeSite {
  int producer = -1;    // Conv / Gemm whose weight and bias are scaled by s
  int activation = -1;  // Relu / Clip between them, -1 when none
  int consumer = -1;    // the depthwise Conv whose weight is divided by s
  int value = -1;       // the consumer's input (whose channel ranges decide s)
  int channels = 0;
};

// Sites in g (live nodes; every tensor involved used by these nodes only, so
// scaling changes nothing else). Layers kept FP32 (--ignore) are equalized
// too: the transform does not change the FP32 function, and AccuracyAware's
// variants, which differ only in what they ignore, then share one FP32 graph
// and its statistics.
std::vector<EqualizeSite> find_equalize_sites(const Graph& g);

// The factors for one site from its channels' largest values (>= 0 after Relu
// / Clip; largest |x| when there is no activation). Channels that never moved
// off zero keep 1.
std::vector<double> equalize_factors(const std::vector<float>& channel_max);

// Scales the site's constants in g (new initializers; the originals stay for
// any other reader). Returns a report entry per site.
nlohmann::json apply_equalization(Graph& g, const std::vector<EqualizeSite>& sites,
                                  const std::vector<std::vector<float>>& channel_max);

}  // namespace c8
