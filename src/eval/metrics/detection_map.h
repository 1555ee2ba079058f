#pragma once
// Object detection accuracy: PASCAL VOC average precision (AP per class at
// one IoU threshold, all-point or 11-point interpolation, "difficult" ground
// truth ignored) and COCO's mAP@[.5:.95] (101-point AP averaged over the IoU
// thresholds 0.50, 0.55, ..., 0.95 and the classes).
//
// The two differ in more than the thresholds, and each follows its reference
// implementation (VOC devkit VOCevaldet.m, pycocotools COCOeval):
// - VOC matches a detection to the ground truth box it overlaps most; if that
//   box is already taken the detection is a false positive. Box areas count
//   pixels inclusively (x1 - x0 + 1), as the devkit does for its integer
//   pixel boxes. Detections matched to a difficult box count neither way.
// - COCO matches a detection to the best-overlapping box not yet taken, keeps
//   the 100 best detections per image, and uses continuous areas.
#include <cstddef>
#include <vector>

namespace c8 {

struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // corners: left, top, right, bottom (pixels)
};

struct GroundTruthBox {
  Box box;
  int cls = 0;
  bool difficult = false;  // VOC: neither a miss when undetected nor a hit when found
};

struct DetectedBox {
  Box box;
  int cls = 0;
  float score = 0;
};

// Intersection over union; pixel_inclusive: areas and overlaps count
// (x1 - x0 + 1) * (y1 - y0 + 1) pixels, the VOC devkit's convention.
double box_iou(const Box& a, const Box& b, bool pixel_inclusive);

enum class ApInterpolation { AllPoints, ElevenPoints };

struct ClassAp {
  int cls = 0;
  double ap = 0;
  size_t ground_truth = 0;  // boxes that count (not difficult)
  size_t detections = 0;
};

class DetectionMap {
 public:
  // One image's ground truth and detections (any order, any classes).
  void add_image(std::vector<GroundTruthBox> truth, std::vector<DetectedBox> detections);
  size_t images() const { return images_.size(); }

  // VOC AP per class with at least one counted ground truth box, classes in
  // increasing order.
  std::vector<ClassAp> voc_ap(double iou_threshold = 0.5, ApInterpolation = ApInterpolation::AllPoints) const;
  // Mean of voc_ap over those classes (0 when there is none).
  double voc_map(double iou_threshold = 0.5, ApInterpolation = ApInterpolation::AllPoints) const;
  // COCO AP of one class at one IoU threshold (-1 when the class has no
  // ground truth), and mAP@[.5:.95] over the classes that have some.
  double coco_ap(int cls, double iou_threshold) const;
  double coco_map() const;

 private:
  struct Image {
    std::vector<GroundTruthBox> truth;
    std::vector<DetectedBox> detections;  // score-descending (stable)
  };
  std::vector<Image> images_;
  std::vector<int> classes() const;  // classes with counted ground truth, increasing
};

}  // namespace c8
