#pragma once
// Detectors trained on COCO often emit COCO's own category ids (1..90, with
// gaps where the 2014 paper's 91 list has classes the data set never used):
// torchvision's detection models and the TensorFlow Object Detection API's
// SSDs do, as post-NMS labels or as the column of a 91-wide score tensor
// (0 = background). A data set lists its classes by name (classes.txt, or a
// COCO JSON file's categories), so such ids are mapped through their names.
#include <map>
#include <string>
#include <vector>

namespace c8 {

// COCO category id -> name ("" for the unused ids and for 0).
const std::vector<std::string>& coco_category_names();

// Darknet / VOC spellings of COCO names (classes.txt files of YOLO sets).
const std::map<std::string, std::string>& darknet_spelling();

// Per COCO category id (0..90): the index of its class in `classes`, by name
// or by its darknet spelling; -1 when the data set does not have it.
std::vector<int> coco_ids_to_classes(const std::vector<std::string>& classes);

}  // namespace c8
