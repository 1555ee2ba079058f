#pragma once
// Small previews of a data set's images for the workbench's data set page:
// the image scaled down (never up) so its longer side is at most max_side,
// encoded as JPEG. Decoding goes through eval/image (the same checks as
// calibration), so a hostile file fails here with the same one-line error.
#include <string>

#include "eval/image.h"

namespace c8 {

// JPEG bytes of `img` scaled to fit max_side x max_side. Throws c8::Error for
// an empty image or an encoder failure.
std::string thumbnail_jpeg(const Image& img, int max_side);

}  // namespace c8
