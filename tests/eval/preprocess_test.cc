#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "eval/image.h"
#include "eval/preprocess.h"
#include "eval_test_util.h"
#include "base/error.h"

using namespace c8;

namespace {

Image rgb(int w, int h, std::vector<uint8_t> px) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = 3;
  im.pixels = std::move(px);
  return im;
}

std::vector<float> run(const Image& im, const Preprocess& p, int c, int h, int w) {
  std::vector<float> out(size_t(c) * size_t(h) * size_t(w), -999.f);
  preprocess_into(im, p, c, h, w, out.data());
  return out;
}

}  // namespace

TEST(EvalPreprocess, MeanStdAndLayouts) {
  // 2x1 RGB image: pixel0 = (10,20,30), pixel1 = (40,50,60).
  Image im = rgb(2, 1, {10, 20, 30, 40, 50, 60});
  Preprocess p;
  p.mean = {1, 2, 3};
  p.std = {2, 4, 8};
  auto nchw = run(im, p, 3, 1, 2);
  EXPECT_EQ(nchw, (std::vector<float>{4.5f, 19.5f, 4.5f, 12.0f, 3.375f, 7.125f}));
  p.layout = "nhwc";
  auto nhwc = run(im, p, 3, 1, 2);
  EXPECT_EQ(nhwc, (std::vector<float>{4.5f, 4.5f, 3.375f, 19.5f, 12.0f, 7.125f}));
  // BGR: model channel 0 reads B; mean/std are per model channel.
  p.layout = "nchw";
  p.color = "bgr";
  auto bgr = run(im, p, 3, 1, 2);
  EXPECT_EQ(bgr, (std::vector<float>{(30 - 1) / 2.f, (60 - 1) / 2.f, (20 - 2) / 4.f, (50 - 2) / 4.f, (10 - 3) / 8.f,
                                     (40 - 3) / 8.f}));
  // Scalar mean/std broadcast (MobileNet style).
  Preprocess q;
  q.mean = {127.5f};
  q.std = {127.5f};
  auto s = run(im, q, 3, 1, 2);
  EXPECT_FLOAT_EQ(s[0], (10 - 127.5f) / 127.5f);
  EXPECT_FLOAT_EQ(s[5], (60 - 127.5f) / 127.5f);
}

TEST(EvalPreprocess, ChannelConversion) {
  Image im = rgb(1, 1, {100, 150, 200});
  auto g = run(im, Preprocess{}, 1, 1, 1);
  EXPECT_NEAR(g[0], 0.299 * 100 + 0.587 * 150 + 0.114 * 200, 1e-4);  // 140.75
  const uint8_t px[2] = {7, 9};
  auto r = run(image_from_gray(px, 2, 1), Preprocess{}, 3, 1, 2);
  EXPECT_EQ(r, (std::vector<float>{7, 9, 7, 9, 7, 9}));
}

TEST(EvalPreprocess, BilinearHandComputed) {
  // 2x2 gray [[0,100],[200,50]] -> 4x4 (up-scale; half-pixel centres, edge clamp).
  const uint8_t px[4] = {0, 100, 200, 50};
  Preprocess p;
  p.width = 4;
  p.height = 4;
  auto o = run(image_from_gray(px, 2, 2), p, 1, 4, 4);
  EXPECT_FLOAT_EQ(o[0], 0.f);                 // (0,0): clamped to pixel (0,0)
  EXPECT_FLOAT_EQ(o[1], 25.f);                // x=1 -> src 0.25 on row 0
  EXPECT_FLOAT_EQ(o[2], 75.f);                // x=2 -> src 0.75
  EXPECT_FLOAT_EQ(o[3], 100.f);               // x=3 -> src 1.25 clamped
  EXPECT_FLOAT_EQ(o[1 * 4 + 1], 59.375f);     // 0.75*(0.75*0+0.25*100) + 0.25*(0.75*200+0.25*50)
  EXPECT_FLOAT_EQ(o[3 * 4 + 3], 50.f);
  // 1-D down-scale 4 -> 2 averages pairs (no antialiasing needed at exactly 2x).
  const uint8_t row[4] = {0, 10, 100, 200};
  Preprocess d;
  d.width = 2;
  d.height = 1;
  auto o2 = run(image_from_gray(row, 4, 1), d, 1, 1, 2);
  EXPECT_FLOAT_EQ(o2[0], 5.f);
  EXPECT_FLOAT_EQ(o2[1], 150.f);
  // 4x down-scale samples between pixels 1 and 2 only (no antialiasing: pixels 0 and 3 ignored).
  Preprocess e;
  e.width = 1;
  e.height = 1;
  EXPECT_FLOAT_EQ(run(image_from_gray(row, 4, 1), e, 1, 1, 1)[0], 55.f);
}

TEST(EvalPreprocess, ResizeThenCenterCrop) {
  // 8x4 gray, f(x,y) = 10x + 50y. resize 2 -> 4x2 (shorter side 2), crop 2 -> x offset 1.
  std::vector<uint8_t> px;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) px.push_back(uint8_t(10 * x + 50 * y));
  Preprocess p;
  p.resize = 2;
  p.crop = 2;
  auto o = run(image_from_gray(px.data(), 8, 4), p, 1, 2, 2);
  // resized (q, r) samples source (2q+0.5, 2r+0.5); the crop shifts q by 1.
  EXPECT_FLOAT_EQ(o[0], 10 * 2.5f + 50 * 0.5f);  // 50
  EXPECT_FLOAT_EQ(o[1], 10 * 4.5f + 50 * 0.5f);  // 70
  EXPECT_FLOAT_EQ(o[2], 10 * 2.5f + 50 * 2.5f);  // 150
  EXPECT_FLOAT_EQ(o[3], 10 * 4.5f + 50 * 2.5f);  // 170
  // Crop only: exact pixels from the centre.
  Preprocess c;
  c.crop = 2;
  auto oc = run(image_from_gray(px.data(), 8, 4), c, 1, 2, 2);
  EXPECT_EQ(oc, (std::vector<float>{80, 90, 130, 140}));
  EXPECT_EQ(preprocessed_size(p, 500, 375, 224, 224), std::make_pair(2, 2));
  Preprocess r;
  r.resize = 256;
  EXPECT_EQ(preprocessed_size(r, 500, 375, 224, 224), std::make_pair(341, 256));
  EXPECT_EQ(preprocessed_size(r, 375, 500, 224, 224), std::make_pair(256, 341));
}

TEST(EvalPreprocess, MatchesSharedNumpyReferenceOnRealImage) {
  // Expected: /work/shared/tools/eval_detection_fastestdet.py resize_linear(voc_val_1, 257, 257),
  // then (x - 127.5) / 127.5 as in eval_segmentation_deeplab.py.
  Image im = load_image(std::string(C8_SHARED_DIR) + "/data/voc2012-seg-3/images/voc_val_1.png");
  ASSERT_EQ(im.width, 513);
  Preprocess p;  // no geometry: stretched to the model size
  p.mean = {127.5f};
  p.std = {127.5f};
  auto o = run(im, p, 3, 257, 257);
  const size_t plane = 257 * 257;
  struct R { int y, x; double v[3]; } refs[] = {
      {0, 0, {204.0, 195.0, 186.0}},
      {100, 200, {196.06105041503906, 193.06105041503906, 187.03053283691406}},
      {256, 256, {187.0, 186.0, 184.0}},
      {128, 64, {114.48637390136719, 116.23735809326172, 111.48638153076172}}};
  for (const auto& r : refs)
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(o[size_t(c) * plane + size_t(r.y) * 257 + size_t(r.x)], (r.v[c] - 127.5) / 127.5, 2e-6)
          << r.y << "," << r.x << " c" << c;
  // Non-uniform stretch 513x513 -> 300x200 (w x h), raw pixels.
  Preprocess s;
  s.width = 300;
  s.height = 200;
  auto o2 = run(im, s, 3, 200, 300);
  const size_t plane2 = 300 * 200;
  struct R2 { int y, x; double v[3]; } refs2[] = {
      {0, 299, {202.0, 195.0, 188.0}}, {199, 0, {182.0, 182.0, 181.64498901367188}},
      {57, 123, {199.0, 195.0, 187.97500610351562}}};
  for (const auto& r : refs2)
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(o2[size_t(c) * plane2 + size_t(r.y) * 300 + size_t(r.x)], r.v[c], 1e-3);
}

TEST(EvalPreprocess, ValidationErrors) {
  Image im = rgb(4, 4, std::vector<uint8_t>(48, 1));
  auto msg = [&](Preprocess p, int c = 3, int h = 4, int w = 4) {
    return c8test::error_of([&] { run(im, p, c, h, w); });
  };
  Preprocess p;
  p.mean = {1, 2};
  EXPECT_NE(msg(p).find("mean has 2 values"), std::string::npos) << msg(p);
  p = Preprocess{};
  p.std = {1, 0, 1};
  EXPECT_NE(msg(p).find("std must not be 0"), std::string::npos);
  p = Preprocess{};
  p.crop = 5;
  EXPECT_NE(msg(p).find("crop 5 is larger"), std::string::npos) << msg(p);
  p = Preprocess{};
  p.resize = 3;
  p.crop = 4;
  EXPECT_NE(msg(p).find("larger than the resized image 3x3"), std::string::npos) << msg(p);
  p = Preprocess{};
  p.crop = 2;
  EXPECT_NE(msg(p).find("model expects 4x4"), std::string::npos) << msg(p);
  p = Preprocess{};
  p.layout = "chw";
  EXPECT_NE(msg(p).find("layout"), std::string::npos);
  p = Preprocess{};
  p.width = 4;
  p.height = 4;
  p.resize = 4;
  EXPECT_NE(msg(p).find("cannot be combined"), std::string::npos);
  EXPECT_NE(msg(Preprocess{}, 4).find("4 channels"), std::string::npos);
  for (auto m : {msg(p), msg(Preprocess{}, 4)}) EXPECT_EQ(m.rfind("preprocess: ", 0), 0u) << m;
}

TEST(EvalPreprocess, JsonAndParsers) {
  auto j = nlohmann::json::parse(
      R"({"resize":256,"crop":224,"mean":"123.675, 116.28,103.53","std":[58.395,57.12,57.375],
          "layout":"NHWC","color":"bgr","label_offset":1})");
  Preprocess p = preprocess_from_json(j);
  EXPECT_EQ(p.resize, 256);
  EXPECT_EQ(p.crop, 224);
  EXPECT_EQ(p.mean, (std::vector<float>{123.675f, 116.28f, 103.53f}));
  EXPECT_EQ(p.std.size(), 3u);
  EXPECT_FLOAT_EQ(p.std[1], 57.12f);
  EXPECT_EQ(p.layout, "nhwc");
  EXPECT_EQ(p.color, "bgr");
  EXPECT_EQ(p.label_offset, 1);
  Preprocess s = preprocess_from_json(nlohmann::json::parse(R"({"size":"352x288","mean":0,"std":255})"));
  EXPECT_EQ(s.width, 352);
  EXPECT_EQ(s.height, 288);
  EXPECT_EQ(s.std, std::vector<float>{255.f});
  EXPECT_EQ(preprocess_from_json(nlohmann::json::parse(R"({"size":32})")).width, 32);
  // Round trip.
  Preprocess rt = preprocess_from_json(preprocess_to_json(p));
  EXPECT_EQ(rt.resize, p.resize);
  EXPECT_EQ(rt.mean, p.mean);
  EXPECT_EQ(rt.color, p.color);

  const std::string unk = c8test::error_of([] { preprocess_from_json(nlohmann::json::parse(R"({"scale":2})")); });
  EXPECT_NE(unk.find("'scale'"), std::string::npos) << unk;
  EXPECT_NE(c8test::error_of([] { preprocess_from_json(nlohmann::json::parse(R"({"crop":"big"})")); }).find("'crop'"),
            std::string::npos);
  EXPECT_NE(c8test::error_of([] { preprocess_from_json(nlohmann::json::parse(R"({"color":"hsv"})")); }).find("color"),
            std::string::npos);
  EXPECT_THROW(preprocess_from_json(nlohmann::json::parse(R"({"size":"224x224","resize":256})")), Error);

  EXPECT_EQ(parse_size("224x224"), std::make_pair(224, 224));
  EXPECT_EQ(parse_size("352X288"), std::make_pair(352, 288));
  EXPECT_EQ(parse_size("32"), std::make_pair(32, 32));
  for (const char* bad : {"", "x", "224x", "0x5", "-3x3", "2.5x3", "axb"}) EXPECT_THROW(parse_size(bad), Error) << bad;
  EXPECT_EQ(parse_floats("127.5"), std::vector<float>{127.5f});
  EXPECT_EQ(parse_floats(" 1, 2.5 ,-3"), (std::vector<float>{1.f, 2.5f, -3.f}));
  for (const char* bad : {"", "1,,2", "a", "1,2,", "nan", "1e99"}) EXPECT_THROW(parse_floats(bad), Error) << bad;
}
