#pragma once
// Where a point of the model's input lies in the original image: detectors
// give boxes in input pixels (YOLO) or in fractions of the input (SSD,
// FastestDet), and the annotations are in the original image's pixels. The
// preprocessing (eval/preprocess.h) stretches, or resizes the shorter side and
// center-crops, so the way back is a scale and an offset per axis:
//   x_image = (x_input + crop_x) * image_w / resized_w
#include "eval/metrics/detection_map.h"
#include "eval/preprocess.h"

namespace c8 {

struct ImageGeometry {
  int input_w = 0, input_h = 0;  // the model input
  int image_w = 0, image_h = 0;  // the original image
  double sx = 1, sy = 1;         // image pixels per resized pixel
  double crop_x = 0, crop_y = 0; // where the input starts in the resized image
  // Input pixels -> image pixels.
  Box to_image(double x0, double y0, double x1, double y1) const {
    return {float((x0 + crop_x) * sx), float((y0 + crop_y) * sy), float((x1 + crop_x) * sx),
            float((y1 + crop_y) * sy)};
  }
};

// Throws c8::Error (from preprocessed_size) when the preprocessing does not
// give the input size for this image.
ImageGeometry image_geometry(const Preprocess& p, int image_w, int image_h, int input_w, int input_h);

// The identity for an image the model saw stretched to its input: what a
// caller without preprocessing settings uses.
ImageGeometry stretched_geometry(int image_w, int image_h, int input_w, int input_h);

}  // namespace c8
