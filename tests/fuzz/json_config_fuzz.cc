// Fuzz target: the JSON preprocessing config (--config FILE and the
// calibr8.preprocess model metadata): bounded parse, keys, then the checks and
// geometry every command applies before reading an image.
#include <cstdint>
#include <string>

#include "eval/preprocess.h"
#include "fuzz_util.h"
#include "base/error.h"
#include "base/json_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlohmann::json j = c8::parse_json_bounded(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    c8::Preprocess p = c8::preprocess_from_json(j);
    c8::validate_preprocess(p, 3);
    (void)c8::preprocessed_size(p, 640, 480, p.width ? p.width : 224, p.height ? p.height : 224);
    (void)c8::json_text(c8::preprocess_to_json(p));
  } catch (const c8::Error&) {
  }
  return 0;
}
