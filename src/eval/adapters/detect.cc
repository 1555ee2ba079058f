#include "eval/adapters/detect.h"

#include <cmath>

#include "base/error.h"
#include "eval/adapters/fastestdet.h"
#include "eval/adapters/ssd.h"
#include "eval/adapters/yolo.h"

namespace c8 {

std::vector<DetectedBox> decode_detections(const std::string& adapter, const std::vector<Tensor>& outs,
                                           const ImageGeometry& g, const DetectContext& ctx) {
  if (outs.empty()) throw Error("adapter " + adapter + ": the model has no output");
  if (adapter == "fastestdet") {
    // Fractions of the image: a stretched input maps them straight to the
    // image (the reference's arithmetic); a crop goes through the input.
    const bool stretched = g.crop_x == 0 && g.crop_y == 0 && std::fabs(g.sx * g.input_w - g.image_w) < 1e-6 &&
                           std::fabs(g.sy * g.input_h - g.image_h) < 1e-6;
    if (stretched) return decode_fastestdet(outs[0], g.image_w, g.image_h);
    std::vector<DetectedBox> d = decode_fastestdet(outs[0], g.input_w, g.input_h);
    for (DetectedBox& b : d) b.box = g.to_image(b.box.x0, b.box.y0, b.box.x1, b.box.y1);
    return d;
  }
  if (adapter == "yolo") return decode_yolo(outs[0], g);
  if (adapter == "yolov8") return decode_yolov8(outs[0], g);
  if (adapter == "ssd") {
    SsdDecode p;
    p.classes = ctx.classes;
    p.label_offset = ctx.label_offset;
    p.class_of_id = &ctx.class_of_id;
    return decode_ssd(outs, ctx.output_names, g, p);
  }
  throw Error("adapter " + adapter + " does not decode detection outputs");
}

}  // namespace c8
