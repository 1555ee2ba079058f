#include "eval/adapters/geometry.h"

namespace c8 {

ImageGeometry image_geometry(const Preprocess& p, int image_w, int image_h, int input_w, int input_h) {
  const PreprocessWindow w = preprocess_window(p, image_w, image_h, input_w, input_h);
  ImageGeometry g;
  g.input_w = input_w;
  g.input_h = input_h;
  g.image_w = image_w;
  g.image_h = image_h;
  g.sx = w.resized_w > 0 ? double(image_w) / w.resized_w : 1;
  g.sy = w.resized_h > 0 ? double(image_h) / w.resized_h : 1;
  g.crop_x = w.crop_x;
  g.crop_y = w.crop_y;
  return g;
}

ImageGeometry stretched_geometry(int image_w, int image_h, int input_w, int input_h) {
  Preprocess p;  // no geometry given: stretched to the input
  return image_geometry(p, image_w, image_h, input_w, input_h);
}

}  // namespace c8
