#include "eval/datasets/voc_xml.h"

#include <pugixml.hpp>

#include <cstdlib>

#include "base/error.h"

namespace c8 {
namespace {

double number(const pugi::xml_node& parent, const char* key, const std::string& where) {
  const pugi::xml_node n = parent.child(key);
  const std::string text = n.child_value();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (!n || text.empty() || end == text.c_str() || *end != '\0')
    throw Error(where + ": <" + key + "> is missing or not a number ('" + text + "')");
  return v;
}

}  // namespace

VocAnnotation read_voc_xml(const std::string& path, const std::vector<std::string>& class_names) {
  pugi::xml_document doc;
  const pugi::xml_parse_result ok = doc.load_file(path.c_str());
  if (!ok) throw Error(path + ": not a readable XML file (" + ok.description() + ")");
  const pugi::xml_node root = doc.child("annotation");
  if (!root) throw Error(path + ": no <annotation> element (not a VOC annotation)");
  VocAnnotation a;
  if (const pugi::xml_node size = root.child("size")) {
    a.width = size.child("width").text().as_int(0);
    a.height = size.child("height").text().as_int(0);
  }
  int index = 0;
  for (const pugi::xml_node o : root.children("object")) {
    const std::string name = o.child_value("name");
    const std::string where = path + ": object " + std::to_string(index++) + " ('" + name + "')";
    int cls = -1;
    for (size_t i = 0; i < class_names.size(); ++i)
      if (class_names[i] == name) cls = int(i);
    if (cls < 0) throw Error(where + ": class not in classes.txt");
    const pugi::xml_node bb = o.child("bndbox");
    if (!bb) throw Error(where + ": no <bndbox>");
    GroundTruthBox g;
    g.cls = cls;
    g.difficult = o.child("difficult").text().as_int(0) != 0;
    g.box = {float(number(bb, "xmin", where)), float(number(bb, "ymin", where)), float(number(bb, "xmax", where)),
             float(number(bb, "ymax", where))};
    if (g.box.x1 < g.box.x0 || g.box.y1 < g.box.y0) throw Error(where + ": xmax < xmin or ymax < ymin");
    a.boxes.push_back(g);
  }
  return a;
}

}  // namespace c8
