#pragma once
// Checks every file a command will write, before any work: never overwrite an
// input (however its path is spelled: ./../x/in.onnx, a symlink, a hard
// link), never write two outputs to one file, never replace a read-only
// file, and fail at once (not after a long calibration) when a folder is
// missing or not writable. Throws c8::Error with one line naming the path.
#include <string>
#include <vector>

namespace c8 {

struct NamedPath {
  std::string flag;  // e.g. "-o", "--report", "model"
  std::string path;  // empty: not given (skipped)
};

// `folders`: data sets (a folder, a labels.txt / IDX file, or DIR:set): no
// output may be written inside them (it would replace a labels.txt, a
// classes.txt or an image, or add a file the next listing picks up).
void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs,
                   const std::vector<NamedPath>& folders = {});

}  // namespace c8
