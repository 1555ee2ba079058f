#pragma once
// PASCAL VOC XML box annotations (one file per image): <object> elements with
// <name>, optional <difficult> (0/1) and <bndbox> <xmin> <ymin> <xmax> <ymax>
// (inclusive integer pixels, decimals accepted). Parsed with pugixml.
#include <string>
#include <vector>

#include "eval/metrics/detection_map.h"

namespace c8 {

struct VocAnnotation {
  int width = 0, height = 0;  // <size>, 0 when absent
  std::vector<GroundTruthBox> boxes;
};

// class_names: index = class id. A name not in it, a missing or malformed
// coordinate, or xmax < xmin throws c8::Error naming the file and object.
VocAnnotation read_voc_xml(const std::string& path, const std::vector<std::string>& class_names);

}  // namespace c8
