#pragma once
// Reports of `calibr8 compare`: one JSON document (report_json) from which the
// text table (report_text) and a self-contained HTML page (report_html: inline
// CSS, inline SVG chart, a few lines of inline script for sorting; no external
// resources) are rendered. Files are written atomically (write_file_atomic).
//
// JSON schema (version 1):
//   tool, version, created (UTC ISO-8601)
//   a, b: {path, file_bytes, parameters, top1, top5, images,
//          latency: {median_ms, p90_ms, mean_ms, min_ms, runs}, throughput_ips, kernels: {impl: count}}
//   dataset: {path, format, images}, preprocess: {...}, threads, eval_batch
//   accuracy: {top1_drop, top5_drop (A - B, fractions), agreement (fraction), agree_images, images}
//   speed: {batch, seconds, rounds, speedup (A median / B median)}      (absent with speed off)
//   layers: {images, rows: [{name, node, op, precision, weights, impl, int8_kernel, matched,
//                            note, cosine, nmse, nmse_max, max_abs, images}]}
//   calibration: the --calib-report JSON as given (optional)
#include <nlohmann/json.hpp>

#include <string>

#include "base/atomic_file.h"

#include "report/compare.h"

namespace c8 {

nlohmann::json report_json(const CompareResult& r, const nlohmann::json& calibration = nullptr);

// Side-by-side summary and the per-layer table (plain text, fixed width).
std::string report_text(const nlohmann::json& report);

// One self-contained HTML document (starts with "<!DOCTYPE html>").
std::string report_html(const nlohmann::json& report);

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(const std::string& s);

// Writes `content` to a temp file beside `path`, fsyncs and renames it over
// `path`: readers never see a partial file. Throws c8::Error naming the path.

// Reads and parses a JSON file; throws c8::Error naming the path.
nlohmann::json read_json_file(const std::string& path);

}  // namespace c8
