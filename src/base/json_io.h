#pragma once
// JSON in and out of calibr8. In: from the user's files (--config,
// --calib-report, model metadata), parsed with a depth limit: nlohmann's copy and dump recurse, so a file of
// 100000 nested brackets crashed calibr8 by stack overflow after parsing.
// Parsing itself is iterative; the callback stops it at the limit.
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"

namespace c8 {

inline nlohmann::json parse_json_bounded(const std::string& text, const std::string& name, int max_depth = 64) {
  try {
    return nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > max_depth) throw Error(name + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
      return true;
    });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(name + ": invalid JSON: " + e.what());
  }
}

// Out: text whose strings may hold bytes that are not UTF-8 (file names):
// replaced by U+FFFD instead of nlohmann's type_error.316 exception.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace c8
