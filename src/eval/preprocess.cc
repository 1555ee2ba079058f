#include "eval/preprocess.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <tuple>

#include "base/error.h"
#include "base/json_io.h"

namespace c8 {

namespace {

[[noreturn]] void fail(const std::string& m) { throw Error("preprocess: " + m); }

std::string size_str(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

// Shorter side to n, longer side floor(long * n / short) (torchvision Resize(int)).
std::pair<int, int> resized_dims(int n, int w, int h) {
  if (w <= h) return {n, std::max(1, int(int64_t(h) * n / w))};
  return {std::max(1, int(int64_t(w) * n / h)), n};
}

// Per-axis bilinear taps (OpenCV INTER_LINEAR / reference numpy semantics).
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> f;
};

// Taps for output positions [first, first + count) of an axis resized in -> out.
Taps make_taps(int in, int out, int first, int count) {
  Taps t;
  t.i0.resize(size_t(count));
  t.i1.resize(size_t(count));
  t.f.resize(size_t(count));
  const double scale = double(in) / double(out);
  for (int k = 0; k < count; ++k) {
    double s = (double(first + k) + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    int i0 = std::min(int(std::floor(s)), in - 1);
    int i1 = std::min(i0 + 1, in - 1);
    t.i0[size_t(k)] = i0;
    t.i1[size_t(k)] = i1;
    t.f[size_t(k)] = float(s - double(i0));
  }
  return t;
}

// Samples the window [ox, ox+ow) x [oy, oy+oh) of src resized to rw x rh.
std::vector<float> sample_window(const float* src, int in_w, int in_h, int c, int rw, int rh, int ox,
                                 int oy, int ow, int oh) {
  std::vector<float> dst(size_t(ow) * size_t(oh) * size_t(c));
  if (rw == in_w && rh == in_h) {  // pure crop/copy: exact
    for (int y = 0; y < oh; ++y)
      std::copy_n(src + (size_t(y + oy) * size_t(in_w) + size_t(ox)) * size_t(c), size_t(ow) * size_t(c),
                  dst.data() + size_t(y) * size_t(ow) * size_t(c));
    return dst;
  }
  const Taps tx = make_taps(in_w, rw, ox, ow), ty = make_taps(in_h, rh, oy, oh);
  std::vector<float> top(size_t(ow) * size_t(c)), bot(size_t(ow) * size_t(c));
  auto hline = [&](int row, float* out) {
    const float* r = src + size_t(row) * size_t(in_w) * size_t(c);
    for (int x = 0; x < ow; ++x) {
      const float fx = tx.f[size_t(x)], gx = 1.0f - fx;
      const float* a = r + size_t(tx.i0[size_t(x)]) * size_t(c);
      const float* b = r + size_t(tx.i1[size_t(x)]) * size_t(c);
      for (int ch = 0; ch < c; ++ch) out[size_t(x) * size_t(c) + size_t(ch)] = a[ch] * gx + b[ch] * fx;
    }
  };
  for (int y = 0; y < oh; ++y) {
    hline(ty.i0[size_t(y)], top.data());
    hline(ty.i1[size_t(y)], bot.data());
    const float fy = ty.f[size_t(y)], gy = 1.0f - fy;
    float* d = dst.data() + size_t(y) * size_t(ow) * size_t(c);
    for (size_t k = 0; k < top.size(); ++k) d[k] = top[k] * gy + bot[k] * fy;
  }
  return dst;
}

std::vector<float> floats_from_json(const nlohmann::json& v, const char* key) {
  if (v.is_number()) return {v.get<float>()};
  if (v.is_string()) return parse_floats(v.get<std::string>());
  if (v.is_array()) {
    std::vector<float> out;
    for (const auto& e : v) {
      if (!e.is_number()) fail(std::string("key '") + key + "': expected numbers, got " + json_text(e));
      out.push_back(e.get<float>());
    }
    if (out.empty()) fail(std::string("key '") + key + "': empty list");
    return out;
  }
  fail(std::string("key '") + key + "': expected a number, a list of numbers or \"a,b,c\", got " + json_text(v));
}

int int_from_json(const nlohmann::json& v, const char* key) {
  // In int range only: get<int>() of 3000000000 wraps, int(1e300) is undefined.
  if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(INT32_MAX)) return int(v.get<uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX)
    return int(v.get<int64_t>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) == d && d >= double(INT32_MIN) && d <= double(INT32_MAX)) return int(d);
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    errno = 0;
    long r = std::strtol(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == 0 && errno == 0 && r >= INT32_MIN && r <= INT32_MAX) return int(r);
  }
  fail(std::string("key '") + key + "': expected an integer, got " + json_text(v));
}

std::string string_from_json(const nlohmann::json& v, const char* key) {
  if (!v.is_string()) fail(std::string("key '") + key + "': expected a string, got " + json_text(v));
  return v.get<std::string>();
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

void validate_preprocess(const Preprocess& p, int model_channels) {
  if (model_channels != 1 && model_channels != 3)
    fail("model input has " + std::to_string(model_channels) + " channels; only 1 (gray) or 3 (RGB/BGR) are supported");
  if (p.resize < 0) fail("resize must be positive, got " + std::to_string(p.resize));
  if (p.crop < 0) fail("crop must be positive, got " + std::to_string(p.crop));
  if (p.width < 0 || p.height < 0) fail("size must be positive, got " + size_str(p.width, p.height));
  if ((p.width > 0) != (p.height > 0)) fail("size needs both width and height, got " + size_str(p.width, p.height));
  if (p.width > 0 && (p.resize > 0 || p.crop > 0))
    fail("size (stretch to WxH) cannot be combined with resize/crop");
  auto check_vec = [&](const std::vector<float>& v, const char* name) {
    if (v.size() != 1 && v.size() != size_t(model_channels))
      fail(std::string(name) + " has " + std::to_string(v.size()) + " values; expected " +
           (model_channels == 1 ? std::string("1 (the model input has 1 channel)")
                                : "1 or " + std::to_string(model_channels) + " (one per model input channel)"));
    for (float x : v)
      if (!std::isfinite(x)) fail(std::string(name) + " values must be finite");
  };
  check_vec(p.mean, "mean");
  check_vec(p.std, "std");
  for (float s : p.std)
    if (s == 0.0f) fail("std must not be 0");
  if (p.layout != "nchw" && p.layout != "nhwc") fail("layout must be 'nchw' or 'nhwc', got '" + p.layout + "'");
  if (p.color != "rgb" && p.color != "bgr") fail("color must be 'rgb' or 'bgr', got '" + p.color + "'");
  if (p.color == "bgr" && model_channels != 3) fail("color 'bgr' needs a 3-channel model input");
  // Class index = model output index - offset: real models need 0 or 1 (a
  // background class); anything near int's range would wrap.
  if (p.label_offset < -65536 || p.label_offset > 65536)
    fail("label_offset must be between -65536 and 65536, got " + std::to_string(p.label_offset));
  if (!p.label_ids.empty() && p.label_ids != "coco") fail("label_ids must be 'coco' or empty, got '" + p.label_ids + "'");
}

std::pair<int, int> preprocessed_size(const Preprocess& p, int in_w, int in_h, int out_w, int out_h) {
  if (p.width > 0) return {p.width, p.height};
  int w = in_w, h = in_h;
  if (p.resize > 0) std::tie(w, h) = resized_dims(p.resize, in_w, in_h);
  if (p.crop > 0) {
    if (p.crop > w || p.crop > h)
      fail("crop " + std::to_string(p.crop) + " is larger than the " + (p.resize > 0 ? "resized" : "input") +
           " image " + size_str(w, h));
    return {p.crop, p.crop};
  }
  if (p.resize == 0) return {out_w, out_h};  // no geometry given: stretch to the model size
  return {w, h};
}

PreprocessWindow preprocess_window(const Preprocess& p, int in_w, int in_h, int out_w, int out_h) {
  PreprocessWindow w;
  w.resized_w = in_w;
  w.resized_h = in_h;
  if (p.width > 0) {
    w.resized_w = w.width = p.width;
    w.resized_h = w.height = p.height;
  } else {
    if (p.resize > 0) std::tie(w.resized_w, w.resized_h) = resized_dims(p.resize, in_w, in_h);
    if (p.crop > 0) {
      if (p.crop > w.resized_w || p.crop > w.resized_h)
        fail("crop " + std::to_string(p.crop) + " is larger than the " + (p.resize > 0 ? "resized" : "input") +
             " image " + size_str(w.resized_w, w.resized_h));
      w.crop_x = (w.resized_w - p.crop) / 2;
      w.crop_y = (w.resized_h - p.crop) / 2;
      w.width = w.height = p.crop;
    } else if (p.resize > 0) {
      w.width = w.resized_w;
      w.height = w.resized_h;
    } else {  // nothing given: stretch to the model size
      w.resized_w = w.width = out_w;
      w.resized_h = w.height = out_h;
    }
  }
  return w;
}

std::vector<float> resize_bilinear(const float* src, int in_w, int in_h, int channels, int out_w, int out_h) {
  if (in_w <= 0 || in_h <= 0 || out_w <= 0 || out_h <= 0 || channels <= 0)
    throw Error("resize_bilinear: invalid size " + size_str(in_w, in_h) + " -> " + size_str(out_w, out_h));
  return sample_window(src, in_w, in_h, channels, out_w, out_h, 0, 0, out_w, out_h);
}

void preprocess_into(const Image& img, const Preprocess& p, int C, int out_h, int out_w, float* dst) {
  validate_preprocess(p, C);
  if (out_h <= 0 || out_w <= 0) fail("invalid model input size " + size_str(out_w, out_h));
  if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels))
    fail("invalid image (" + size_str(img.width, img.height) + "x" + std::to_string(img.channels) + ")");

  // 1. channel conversion to float HWC with C channels.
  const size_t npix = size_t(img.width) * size_t(img.height);
  std::vector<float> src(npix * size_t(C));
  const uint8_t* px = img.pixels.data();
  if (img.channels == C) {
    for (size_t i = 0; i < src.size(); ++i) src[i] = float(px[i]);
  } else if (C == 1) {  // RGB -> gray, BT.601 luma
    for (size_t i = 0; i < npix; ++i)
      src[i] = 0.299f * float(px[3 * i]) + 0.587f * float(px[3 * i + 1]) + 0.114f * float(px[3 * i + 2]);
  } else {  // gray -> RGB
    for (size_t i = 0; i < npix; ++i) src[3 * i] = src[3 * i + 1] = src[3 * i + 2] = float(px[i]);
  }

  // 2. geometry.
  const PreprocessWindow win = preprocess_window(p, img.width, img.height, out_w, out_h);
  const int rw = win.resized_w, rh = win.resized_h, ox = win.crop_x, oy = win.crop_y, ow = win.width,
            oh = win.height;
  if (ow != out_w || oh != out_h)
    fail("pre-processed image is " + size_str(ow, oh) + " but the model expects " + size_str(out_w, out_h) +
         " (input " + size_str(img.width, img.height) + "; check --resize/--crop/--size)");
  std::vector<float> geo = sample_window(src.data(), img.width, img.height, C, rw, rh, ox, oy, ow, oh);

  // 3-5. colour order, normalisation, layout.
  float mean[3], sd[3];
  for (int c = 0; c < C; ++c) {
    mean[c] = p.mean.size() == 1 ? p.mean[0] : p.mean[size_t(c)];
    sd[c] = p.std.size() == 1 ? p.std[0] : p.std[size_t(c)];
  }
  const bool bgr = p.color == "bgr";
  const bool nchw = p.layout == "nchw";
  const size_t plane = size_t(out_h) * size_t(out_w);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < C; ++c) {
      const int sc = bgr ? 2 - c : c;  // model channel c reads source channel sc
      const float v = (geo[i * size_t(C) + size_t(sc)] - mean[c]) / sd[c];
      if (nchw)
        dst[size_t(c) * plane + i] = v;
      else
        dst[i * size_t(C) + size_t(c)] = v;
    }
  }
}

std::pair<int, int> parse_size(const std::string& s) {
  auto num = [&](const std::string& t) -> int {
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 9)
      fail("invalid size '" + s + "' (expected WxH or N, e.g. 224x224)");
    int v = std::atoi(t.c_str());
    if (v <= 0) fail("invalid size '" + s + "' (must be positive)");
    return v;
  };
  const size_t x = lower(s).find('x');
  if (x == std::string::npos) {
    int v = num(s);
    return {v, v};
  }
  return {num(s.substr(0, x)), num(s.substr(x + 1))};
}

std::vector<float> parse_floats(const std::string& s) {
  std::vector<float> out;
  size_t pos = 0;
  while (true) {
    size_t comma = s.find(',', pos);
    std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t b = tok.find_first_not_of(" \t"), e = tok.find_last_not_of(" \t");
    tok = b == std::string::npos ? "" : tok.substr(b, e - b + 1);
    char* end = nullptr;
    errno = 0;
    const float v = tok.empty() ? 0.0f : std::strtof(tok.c_str(), &end);
    if (tok.empty() || !end || *end != 0 || errno == ERANGE || !std::isfinite(v))
      fail("invalid number list '" + s + "' (expected e.g. 127.5 or 123.7,116.3,103.5)");
    out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

Preprocess preprocess_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("expected a JSON object, got " + json_text(j));
  Preprocess p;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const auto& v = it.value();
    if (k == "resize") {
      p.resize = int_from_json(v, "resize");
    } else if (k == "crop") {
      p.crop = int_from_json(v, "crop");
    } else if (k == "size") {
      std::pair<int, int> wh;
      if (v.is_number_integer()) wh = parse_size(std::to_string(v.get<long long>()));
      else wh = parse_size(string_from_json(v, "size"));
      p.width = wh.first;
      p.height = wh.second;
    } else if (k == "mean") {
      p.mean = floats_from_json(v, "mean");
    } else if (k == "std") {
      p.std = floats_from_json(v, "std");
    } else if (k == "layout") {
      p.layout = lower(string_from_json(v, "layout"));
      if (p.layout != "nchw" && p.layout != "nhwc") fail("key 'layout': expected 'nchw' or 'nhwc', got '" + p.layout + "'");
    } else if (k == "color") {
      p.color = lower(string_from_json(v, "color"));
      if (p.color != "rgb" && p.color != "bgr") fail("key 'color': expected 'rgb' or 'bgr', got '" + p.color + "'");
    } else if (k == "label_offset") {
      p.label_offset = int_from_json(v, "label_offset");
    } else if (k == "label_ids") {
      p.label_ids = lower(string_from_json(v, "label_ids"));
      if (!p.label_ids.empty() && p.label_ids != "coco") fail("key 'label_ids': expected 'coco' or '', got '" + p.label_ids + "'");
    } else {
      fail("unknown key '" + k +
           "' (known: resize, crop, size, mean, std, layout, color, label_offset, label_ids)");
    }
  }
  if (p.resize < 0 || p.crop < 0) fail("resize/crop must be positive");
  if (p.width > 0 && (p.resize > 0 || p.crop > 0)) fail("'size' cannot be combined with 'resize'/'crop'");
  return p;
}

nlohmann::json preprocess_to_json(const Preprocess& p) {
  nlohmann::json j;
  if (p.resize) j["resize"] = p.resize;
  if (p.crop) j["crop"] = p.crop;
  if (p.width) j["size"] = size_str(p.width, p.height);
  j["mean"] = p.mean;
  j["std"] = p.std;
  j["layout"] = p.layout;
  j["color"] = p.color;
  j["label_offset"] = p.label_offset;
  if (!p.label_ids.empty()) j["label_ids"] = p.label_ids;
  return j;
}

}  // namespace c8
