// The shared detector, scored by calibr8 alone: FastestDet on indoor-det-85
// (85 images, VOC XML boxes), decoded and matched as ../shared/ASSETS.md
// section 3 says, must give the FP32 reference measured there with ONNX
// Runtime and PIL: mAP@0.5 (VOC all-point) 0.1877. Also the adapter's
// decoding on a hand-made output, and the XML reader's refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "eval/adapters/fastestdet.h"
#include "eval/adapters/nms.h"
#include "eval/datasets/dataset.h"
#include "eval/datasets/voc_xml.h"
#include "eval/image.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "runtime/session.h"

namespace c8 {
namespace {

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

// Runs a command, returns its stdout (empty on failure).
std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return pclose(p) == 0 ? out : std::string();
}

// calibr8's detection chain (its FP32 runtime, preprocessing, FastestDet
// decoding, NMS, VOC XML reader and AP) against the shared scorer
// (tools/eval_detection_fastestdet.py: PIL decoding, numpy resize and
// decoding, ONNX Runtime) on the same JPEG pixels: PIL decodes them to PNG
// first, since the JPEG decoder is the one part the two do not share (stb vs
// libjpeg-turbo). Every per-class AP50 and the mAP must agree to the 4 digits
// the scorer prints. (ASSETS.md's 0.1877 came from another PIL / libjpeg
// build: the same scorer gives 0.1907 with Debian 12's.)
TEST(FastestDet, MatchesTheSharedScorerOnItsPixels) {
  const std::string model = shared("models/fastestdet_coco_352.onnx"), data = shared("data/indoor-det-85");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  const std::string ort = std::string(C8_SOURCE_DIR) + "/scripts/ort/node_modules";
  const std::string scored = capture("ORT_NODE_MODULES='" + ort + "' /usr/bin/python3 '" +
                                     shared("tools/eval_detection_fastestdet.py") + "' '" + model + "' '" + data + "'");
  ASSERT_FALSE(scored.empty()) << "the shared scorer did not run (needs python3-pil, python3-numpy, node and onnxruntime-node)";
  std::map<std::string, double> want;
  double want_map = -1;
  {
    std::istringstream in(scored);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream w(line);
      std::string tag, name;
      double v;
      if (w >> tag >> name >> v && tag == "AP50") want[name] = v;
      const size_t at = line.find("mAP@0.5(VOC all-point)=");
      if (at != std::string::npos) want_map = std::stod(line.substr(at + 23));
    }
  }
  ASSERT_EQ(want.size(), 15u) << scored;
  ASSERT_GT(want_map, 0) << scored;

  const std::string png = ::testing::TempDir() + "/fastestdet_png";
  std::filesystem::remove_all(png);
  std::filesystem::create_directories(png);
  auto ds = open_dataset(data);
  ASSERT_EQ(ds->size(), 85u);
  ASSERT_FALSE(capture("/usr/bin/python3 -c \"import sys, os\nfrom PIL import Image\nfor f in sys.argv[2:]: "
                       "Image.open(f).convert('RGB').save(os.path.join(sys.argv[1], os.path.basename(f) + '.png'))\" '" +
                       png + "' '" + data + "'/images/*.jpg && echo ok")
                   .empty());
  const std::vector<std::string> names = ds->class_names();
  Preprocess p;
  p.width = p.height = 352;
  p.mean = {0};
  p.std = {255};
  p.color = "bgr";
  Session s(load_onnx(model));
  DetectionMap m;
  Tensor x(DType::F32, {1, 3, 352, 352});
  for (size_t i = 0; i < ds->size(); ++i) {
    const std::string jpg = std::filesystem::path(ds->name(i)).filename().string();
    const Image img = load_image(png + "/" + jpg + ".png");
    preprocess_into(img, p, 3, 352, 352, x.data<float>());
    const VocAnnotation a = read_voc_xml(ds->annotation_paths(i).at(0), names);
    m.add_image(a.boxes, decode_fastestdet(s.run({x})[0], img.width, img.height));
  }
  std::filesystem::remove_all(png);
  const std::vector<ClassAp> aps = m.voc_ap(0.5);
  ASSERT_EQ(aps.size(), want.size());
  for (const ClassAp& a : aps) {
    ASSERT_TRUE(want.count(names[size_t(a.cls)])) << names[size_t(a.cls)];
    EXPECT_NEAR(a.ap, want[names[size_t(a.cls)]], 5.001e-5) << names[size_t(a.cls)];
  }
  const double map = m.voc_map(0.5);
  std::printf("[accuracy] fastestdet indoor-det-85 mAP@0.5 %.4f, the shared scorer %.4f (PIL pixels)\n", map, want_map);
  EXPECT_NEAR(map, want_map, 5.001e-5);
}

// One 2x2 grid, 2 classes: cell (0,0) objectness 0.81, class 1 at 0.9, zero
// regression -> centre (0 + 0) / 2 = 0, size sigmoid(0) = 0.5 of a 100x60
// image: box (-25, -15, 25, 15), score 0.81^0.6 * 0.9^0.4. Cell (1,1) has
// objectness 0: score 0, dropped by conf.
TEST(FastestDet, DecodesOneCell) {
  Tensor out(DType::F32, {1, 7, 2, 2});
  float* f = out.data<float>();
  f[0 * 4 + 0] = 0.81f;  // objectness, cell (0,0)
  f[5 * 4 + 0] = 0.1f;   // class 0
  f[6 * 4 + 0] = 0.9f;   // class 1
  const std::vector<DetectedBox> d = decode_fastestdet(out, 100, 60);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_NEAR(d[0].score, std::pow(0.81, 0.6) * std::pow(0.9, 0.4), 1e-6);
  EXPECT_NEAR(d[0].box.x0, -25, 1e-4);
  EXPECT_NEAR(d[0].box.y0, -15, 1e-4);
  EXPECT_NEAR(d[0].box.x1, 25, 1e-4);
  EXPECT_NEAR(d[0].box.y1, 15, 1e-4);
  EXPECT_THROW(decode_fastestdet(Tensor(DType::F32, {1, 4, 2, 2}), 10, 10), Error);
}

// NMS is per class: an overlapping box of another class survives; one of the
// same class above the IoU threshold goes; the result is by score, capped.
TEST(FastestDet, NmsPerClass) {
  const Box a{0, 0, 10, 10}, near{1, 0, 11, 10}, far{50, 50, 60, 60};
  const std::vector<DetectedBox> in = {{near, 0, .8f}, {a, 0, .9f}, {a, 1, .7f}, {far, 0, .6f}};
  std::vector<DetectedBox> out = nms_per_class(in, 0.45, 100);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].score, .9f);
  EXPECT_EQ(out[1].cls, 1);
  EXPECT_EQ(out[2].score, .6f);
  EXPECT_EQ(nms_per_class(in, 0.45, 2).size(), 2u);
}

TEST(VocXml, RefusesWithTheFileAndObject) {
  const std::string dir = ::testing::TempDir() + "/vocxml";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  const std::vector<std::string> names = {"cat", "dog"};
  const std::string ok = write("ok.xml",
                               "<annotation><size><width>64</width><height>48</height></size>"
                               "<object><name>dog</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>2</ymin>"
                               "<xmax>30.5</xmax><ymax>40</ymax></bndbox></object></annotation>");
  const VocAnnotation a = read_voc_xml(ok, names);
  EXPECT_EQ(a.width, 64);
  ASSERT_EQ(a.boxes.size(), 1u);
  EXPECT_EQ(a.boxes[0].cls, 1);
  EXPECT_TRUE(a.boxes[0].difficult);
  EXPECT_EQ(a.boxes[0].box.x1, 30.5f);
  auto message = [&](const std::string& file) {
    try {
      read_voc_xml(file, names);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string bird = write("bird.xml", "<annotation><object><name>bird</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                                             "<xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>");
  EXPECT_NE(message(bird).find("bird.xml: object 0 ('bird'): class not in classes.txt"), std::string::npos) << message(bird);
  const std::string junk = write("junk.xml", "<annotation><object><name>cat</name><bndbox><xmin>x</xmin></bndbox>");
  EXPECT_NE(message(junk).find("junk.xml: not a readable XML file"), std::string::npos) << message(junk);
  const std::string nan = write("nan.xml", "<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                                           "<xmax>abc</xmax><ymax>2</ymax></bndbox></object></annotation>");
  EXPECT_NE(message(nan).find("<xmax> is missing or not a number"), std::string::npos) << message(nan);
  const std::string flipped = write("flip.xml", "<annotation><object><name>cat</name><bndbox><xmin>9</xmin><ymin>1</ymin>"
                                                "<xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>");
  EXPECT_NE(message(flipped).find("xmax < xmin"), std::string::npos) << message(flipped);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c8
