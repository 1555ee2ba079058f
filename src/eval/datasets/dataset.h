#pragma once
// Labelled / unlabelled image data sets. Readers list their files when opened
// (and check that listed files exist) but decode images lazily in get(), so
// large data sets cost little memory. After construction a Dataset is
// immutable: get() may be called concurrently from several threads.
//
// open_dataset(path) autodetects, in this order:
//  (a) "labels.txt"   : path is a folder holding labels.txt (or the labels.txt
//                       file itself). Lines "relative/path class_index" (the
//                       last token is the label, so paths may contain spaces;
//                       blank lines and lines starting with '#' are skipped).
//                       Order = file order. Optional classes.txt beside it.
//  (b) "idx"          : (Fashion-)MNIST IDX files, plain or gzip:
//                         <dir>                 the folder holds exactly one *images-idx3-ubyte[.gz]
//                         <dir>/t10k, <dir>/train  name prefix of the set inside <dir>
//                         <dir>:test, <dir>:train  suffix syntax (test = t10k)
//                         <dir>/t10k-images-idx3-ubyte.gz  the images file itself
//                       Labels come from the matching *labels-idx1-ubyte[.gz]; without
//                       one the set is not annotated. Order = file order.
//  (c) "list.txt"     : folder with list.txt: "image_path [annotation_path ...]"
//                       per line (whitespace separated; not annotated for
//                       classification; annotation_paths() gives the rest).
//                       Checked before (d) because such folders usually hold
//                       images/ and annotations/ sub-folders.
//  (c2) "coco-json"  : a COCO instances file (*.json), or a folder holding
//                       annotations.json or exactly one instances_*.json
//                       (itself or in annotations/): "images" (id, file_name),
//                       "annotations" (image_id, category_id, bbox [x, y, w, h],
//                       iscrowd) and "categories" (id, name). Images are found
//                       beside the JSON, in images/ there, or in the folder.
//                       Classes: classes.txt beside it when present (COCO
//                       names and their darknet spellings matched), else the
//                       categories by increasing id (the 80-class order of
//                       YOLO / SSD exports). Crowd boxes are ignored in
//                       scoring (as VOC's difficult ones). Boxes keep COCO's
//                       continuous corners (x, y, x + w, y + h).
//  (d) "class-folders": no image files directly in the folder, and at least one
//                       sub-folder holding images: every non-hidden sub-folder is
//                       a class, byte-wise alphabetical order = class index (empty
//                       class folders keep their index), images found recursively.
//  (e) "image-folder" : any other folder: all images below it (recursive), not
//                       annotated.
// Image files are recognised by extension (.jpg .jpeg .png .bmp .pgm .ppm .pnm,
// any case); hidden files/folders are skipped; listings are sorted by relative
// path (byte order). classes.txt (one class per line; a leading ImageNet wnid
// token "nXXXXXXXX" followed by a name is dropped, so "n01440764 tench" ->
// "tench") is read for (a), (b) and (c) when present beside the list / IDX files.
// An empty data set throws c8::Error "<dir>: no images found".
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "eval/image.h"
#include "eval/metrics/detection_map.h"

namespace c8 {

struct Sample {
  std::string name;  // relative path (or "<idx file>#<index>")
  Image image;
  int label = -1;    // class index (without any model label offset), -1 if unknown
};

class Dataset {
 public:
  virtual ~Dataset();
  virtual size_t size() const = 0;
  virtual Sample get(size_t i) const = 0;  // decodes; throws c8::Error naming the file
  virtual bool annotated() const = 0;      // true if every sample has a class label
  virtual std::string format() const = 0;  // "labels.txt", "idx", "class-folders", "list.txt", "image-folder"
  virtual std::string root() const = 0;    // folder relative names are resolved against
  virtual std::vector<std::string> class_names() const { return {}; }
  // Extension: sample name and label without decoding (cheap).
  virtual std::string name(size_t i) const { return get(i).name; }
  virtual int label(size_t i) const { (void)i; return -1; }
  // Extension: absolute/full paths of per-image annotation files (list.txt), else empty.
  virtual std::vector<std::string> annotation_paths(size_t i) const { (void)i; return {}; }
  // Extension: detection ground truth the data set holds itself (COCO JSON),
  // class ids as class_names() indexes; has_boxes() false when there is none
  // (boxes then come from annotation files).
  virtual bool has_boxes() const { return false; }
  virtual std::vector<GroundTruthBox> boxes(size_t i) const { (void)i; return {}; }
};

std::unique_ptr<Dataset> open_dataset(const std::string& path);

// Individual readers (open_dataset dispatches to these).
std::unique_ptr<Dataset> open_labels_txt(const std::string& dir_or_file);
std::unique_ptr<Dataset> open_idx(const std::string& spec);
std::unique_ptr<Dataset> open_list_txt(const std::string& dir_or_file);
std::unique_ptr<Dataset> open_coco_json(const std::string& dir_or_file);
std::unique_ptr<Dataset> open_class_folders(const std::string& dir);
std::unique_ptr<Dataset> open_image_folder(const std::string& dir);

// Reads classes.txt (see above). Throws if unreadable.
std::vector<std::string> read_class_names(const std::string& path);
// True for the image extensions listed above.
bool is_image_file_name(const std::string& name);

}  // namespace c8
