// Fuzz target: the image front-end (format sniffing, size limits, stb_image
// decoding) and the preprocessing every decoded image goes through.
#include <cstdint>
#include <vector>

#include "eval/image.h"
#include "eval/preprocess.h"
#include "fuzz_util.h"
#include "base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    c8::Image img = c8::decode_image(data, size, "fuzz.img");
    if (img.pixels.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels)) std::abort();
    // Both channel conversions and a resize that up- and down-samples.
    for (int channels : {1, 3}) {
      c8::Preprocess p;
      p.width = 7;
      p.height = 5;
      std::vector<float> out(size_t(channels) * 7 * 5);
      c8::preprocess_into(img, p, channels, 5, 7, out.data());
    }
  } catch (const c8::Error&) {
  }
  return 0;
}
