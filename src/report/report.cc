#include "report/report.h"

#include "eval/task_eval.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "eval/limits.h"
#include "base/error.h"
#include "base/format.h"
#include "base/json_io.h"

namespace c8 {

using nlohmann::json;

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double num(const json& j, const char* k, double def = 0) {
  auto it = j.find(k);
  return it != j.end() && it->is_number() ? it->get<double>() : def;
}
bool has_num(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number();
}
std::string str(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string human_bytes(double b) {
  if (b <= 0) return "-";  // not a file (embedded default model)
  if (b >= 1024.0 * 1024.0) return fmt("%.2f MB", b / (1024.0 * 1024.0));
  if (b >= 1024.0) return fmt("%.1f KB", b / 1024.0);
  return fmt("%.0f B", b);
}

std::string pct(double f) { return fmt("%.2f %%", 100 * f); }

std::string sci(const json& v) {
  if (!v.is_number()) return "-";
  double x = v.get<double>();
  if (x == 0) return "0";
  return fmt("%.3e", x);
}

std::string base_name(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

json latency_json(const LatencyStats& l) {
  return {{"median_ms", l.median_ms}, {"p90_ms", l.p90_ms}, {"mean_ms", l.mean_ms}, {"min_ms", l.min_ms},
          {"runs", l.ms.size()}};
}

json model_json(const ModelReport& m, bool acc, bool classify, bool speed) {
  json j;
  j["path"] = m.path;
  j["file_bytes"] = m.file_bytes;
  j["parameters"] = m.parameters;
  if (acc) {
    if (classify) {
      j["top1"] = m.top1;
      j["top5"] = m.top5;
    }
    j["metrics"] = m.metrics;
    j["images"] = m.images;
  }
  if (speed) {
    j["latency"] = latency_json(m.latency);
    j["throughput_ips"] = m.latency.throughput_ips;
  }
  j["kernels"] = m.kernels;
  return j;
}

// JSON numbers: NaN / inf are not representable, write null.
json finite(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

}  // namespace

json report_json(const CompareResult& r, const json& calibration) {
  const CompareConfig& c = r.config;
  json j;
  j["tool"] = "calibr8 compare";
  j["version"] = 1;
  j["created"] = utc_now();
  const bool acc = c.accuracy && r.annotated, classify = r.has_task && r.task.task == Task::Classify;
  j["a"] = model_json(r.a, acc, classify, c.speed);
  j["b"] = model_json(r.b, acc, classify, c.speed);
  if (r.has_task) j["task"] = {{"task", task_name(r.task.task)}, {"adapter", r.task.adapter}, {"from", r.task.reason}};
  j["dataset"] = {{"path", c.dataset}, {"format", r.dataset_format}, {"images", r.images}};
  if (!c.range.empty()) j["dataset"]["range"] = c.range;
  if (c.limit > 0) j["dataset"]["limit"] = c.limit;
  j["preprocess"] = preprocess_to_json(c.pre);
  j["threads"] = c.threads;
  j["eval_batch"] = c.batch ? c.batch : (c.fixed_batch > 0 ? int(c.fixed_batch) : 8);
  if (acc) {
    const double va = r.a.metrics.value(r.metric, 0.0), vb = r.b.metrics.value(r.metric, 0.0);
    j["accuracy"] = {{"metric", r.metric}, {"label", metric_label(r.metric)}, {"a", va}, {"b", vb}, {"drop", va - vb},
                     {"images", r.images}};
    if (classify) {
      j["accuracy"]["top1_drop"] = r.a.top1 - r.b.top1;
      j["accuracy"]["top5_drop"] = r.a.top5 - r.b.top5;
      j["accuracy"]["agreement"] = r.agreement;
      j["accuracy"]["agree_images"] = r.agree;
    }
  }
  if (c.accuracy && !r.annotated) j["accuracy_note"] = r.accuracy_note;
  if (c.accuracy) j["agreement"] = r.agreement_json;
  if (c.speed)
    j["speed"] = {{"batch", r.bench_batch}, {"seconds", c.seconds}, {"rounds", r.rounds}, {"speedup", finite(r.speedup)}};
  json rows = json::array();
  for (const LayerRow& l : r.layers) {
    json e = {{"name", l.name}, {"node", l.node}, {"op", l.op}, {"precision", l.precision}, {"weights", l.weights},
              {"impl", l.impl}, {"int8_kernel", l.int8_kernel}, {"matched", l.matched}, {"images", l.images}};
    if (!l.note.empty()) e["note"] = l.note;
    e["cosine"] = l.matched ? finite(l.cosine) : json(nullptr);
    e["nmse"] = l.matched ? finite(l.nmse) : json(nullptr);
    e["nmse_max"] = l.matched ? finite(l.nmse_max) : json(nullptr);
    e["max_abs"] = l.matched ? finite(l.max_abs) : json(nullptr);
    rows.push_back(e);
  }
  if (c.layers) {
    j["layers"] = {{"images", r.layer_images}, {"rows", rows}};
    if (r.has_fast_output)
      j["layers"]["fast_output"] = {{"cosine", finite(r.fast_output_cosine)}, {"nmse", finite(r.fast_output_nmse)}};
  }
  if (!calibration.is_null()) j["calibration"] = calibration;
  return j;
}

// ---------------------------------------------------------------- text

std::string report_text(const json& j) {
  std::ostringstream o;
  const json &a = j.at("a"), &b = j.at("b");
  std::string pa = str(a, "path"), pb = str(b, "path");
  int w = int(std::max<size_t>(24, pa.size() + 3));
  auto row = [&](const std::string& k, const std::string& va, const std::string& vb, const std::string& extra = "") {
    o << fmt("%-18s %-*s %s", k.c_str(), w, va.c_str(), vb.c_str());
    if (!extra.empty()) o << "   " << extra;
    o << "\n";
  };
  row("", "A (reference)", "B (candidate)");
  row("model", pa, pb);
  row("file size", human_bytes(num(a, "file_bytes")), human_bytes(num(b, "file_bytes")),
      num(a, "file_bytes") > 0 && num(b, "file_bytes") > 0 ? fmt("B/A %.2f", num(b, "file_bytes") / num(a, "file_bytes")) : "");
  row("parameters", fmt("%.0f", num(a, "parameters")), fmt("%.0f", num(b, "parameters")));
  if (j.contains("accuracy") || j.contains("accuracy_note")) {
    const json& ds = j.at("dataset");
    o << fmt("%-18s %s (%s, %.0f images)\n", "dataset", str(ds, "path").c_str(), str(ds, "format").c_str(),
             num(ds, "images"));
  }
  if (j.contains("task"))
    o << fmt("%-18s %s (%s; decoder %s)\n", "task", str(j["task"], "task").c_str(), str(j["task"], "from").c_str(),
             str(j["task"], "adapter").c_str());
  if (j.contains("accuracy") && j["accuracy"].contains("top1_drop")) {
    const json& acc = j["accuracy"];
    row("top-1", pct(num(a, "top1")), pct(num(b, "top1")), fmt("drop %+.2f pt", 100 * num(acc, "top1_drop")));
    row("top-5", pct(num(a, "top5")), pct(num(b, "top5")), fmt("drop %+.2f pt", 100 * num(acc, "top5_drop")));
    o << fmt("%-18s %s (%.0f/%.0f images with the same top-1)\n", "agreement", pct(num(acc, "agreement")).c_str(),
             num(acc, "agree_images"), num(acc, "images"));
  } else if (j.contains("accuracy")) {
    const json &ma = a.at("metrics"), &mb = b.at("metrics");
    const std::string head = str(j["accuracy"], "metric");
    auto metric_row = [&](const std::string& k) {
      row(metric_label(k), pct(num(ma, k.c_str())), pct(num(mb, k.c_str())),
          fmt("drop %+.2f pt", 100 * (num(ma, k.c_str()) - num(mb, k.c_str()))));
    };
    metric_row(head);  // the task's headline first
    for (auto& [k, v] : ma.items())
      if (v.is_number() && mb.contains(k) && k != head) metric_row(k);
  }
  if (j.contains("accuracy_note")) o << fmt("%-18s not measured: %s\n", "accuracy", str(j, "accuracy_note").c_str());
  if (j.contains("agreement")) {
    const json& g = j["agreement"];
    if (g.contains("pseudo_map50"))
      o << fmt("%-18s %s (B's boxes against A's %.0f boxes with score >= %.2f as ground truth)\n", "pseudo-mAP@0.5",
               pct(num(g, "pseudo_map50")).c_str(), num(g, "reference_boxes"), num(g, "reference_score_threshold"));
    if (has_num(g, "pixel_agreement"))
      o << fmt("%-18s %s (pixels with the same class)\n", "pixel agreement", pct(num(g, "pixel_agreement")).c_str());
    if (has_num(g, "top1_agreement") && !(j.contains("accuracy") && j["accuracy"].contains("top1_drop")))
      o << fmt("%-18s %s (%.0f/%.0f images with the same top-1)\n", "agreement", pct(num(g, "top1_agreement")).c_str(),
               num(g, "agree_images"), num(g, "images"));
    for (auto& out : g.value("outputs", json::array())) {
      if (out.contains("cosine"))
        o << fmt("%-18s cosine %.6f, NMSE %s, max abs error %s (B vs A, mean over %.0f images)\n",
                 ("output " + str(out, "name")).c_str(), num(out, "cosine"), sci(out["nmse"]).c_str(),
                 sci(out["max_abs"]).c_str(), num(out, "images"));
      else
        o << fmt("%-18s %s\n", ("output " + str(out, "name")).c_str(), str(out, "note").c_str());
    }
  }
  if (j.contains("speed")) {
    const json& sp = j["speed"];
    const json &la = a.at("latency"), &lb = b.at("latency");
    row("latency median", fmt("%.3f ms", num(la, "median_ms")), fmt("%.3f ms", num(lb, "median_ms")));
    row("latency p90", fmt("%.3f ms", num(la, "p90_ms")), fmt("%.3f ms", num(lb, "p90_ms")));
    row("throughput", fmt("%.1f img/s", num(a, "throughput_ips")), fmt("%.1f img/s", num(b, "throughput_ips")));
    row("runs", fmt("%.0f", num(la, "runs")), fmt("%.0f", num(lb, "runs")));
    o << fmt("%-18s %.2fx (A median / B median; batch %.0f, %.0f thread(s), %.0f interleaved rounds in %.1f s)\n",
             "speedup", num(sp, "speedup"), num(sp, "batch"), num(j, "threads"), num(sp, "rounds"), num(sp, "seconds"));
  }
  auto kern = [](const json& m) {
    std::string s;
    if (m.contains("kernels"))
      for (auto& [k, n] : m["kernels"].items()) s += (s.empty() ? "" : ", ") + k + " x" + std::to_string(n.get<int>());
    return s;
  };
  o << fmt("%-18s %s\n%-18s %s\n", "kernels A", kern(a).c_str(), "kernels B", kern(b).c_str());
  if (j.contains("layers")) {
    const json& L = j["layers"];
    o << fmt("\nper layer: B vs A, output matched by name, mean over %.0f image(s)\n", num(L, "images"));
    size_t nw = 5, kw = 6;
    for (auto& r : L["rows"]) {
      nw = std::max(nw, str(r, "name").size());
      kw = std::max(kw, str(r, "impl").size());
    }
    nw = std::min<size_t>(nw, 48);
    kw = std::min<size_t>(kw, 36);
    o << fmt("%-*s %-14s %-5s %-5s %-16s %-*s %10s %11s %11s\n", int(nw), "layer", "op", "prec", "math", "weights", int(kw),
             "kernel (B)", "cosine", "NMSE", "NMSE max");
    for (auto& r : L["rows"]) {
      std::string cos = r["cosine"].is_number() ? fmt("%.6f", r["cosine"].get<double>()) : "-";
      std::string k = str(r, "impl");
      if (k.size() > kw) k = k.substr(0, kw - 3) + "...";
      const char* math = r.value("int8_kernel", false) ? "int8" : "fp32";
      o << fmt("%-*s %-14s %-5s %-5s %-16s %-*s %10s %11s %11s", int(nw), str(r, "name").c_str(), str(r, "op").c_str(),
               str(r, "precision").c_str(), math, str(r, "weights").c_str(), int(kw), k.c_str(), cos.c_str(),
               sci(r["nmse"]).c_str(), sci(r["nmse_max"]).c_str());
      if (r.contains("note")) o << "  (" << str(r, "note") << ")";
      o << "\n";
    }
    if (L.contains("fast_output"))
      o << fmt("model output through the optimised runtimes (B's fused kernels): cosine %.6f, NMSE %s\n",
               num(L["fast_output"], "cosine"), sci(L["fast_output"]["nmse"]).c_str());
  }
  if (j.contains("calibration") && j["calibration"].is_object()) {
    o << "\ncalibration report:\n";
    for (auto& [k, v] : j["calibration"].items()) {
      if (v.is_object()) {
        o << "  " << k << ":\n";
        for (auto& [k2, v2] : v.items()) {
          std::string s = v2.is_string() ? v2.get<std::string>() : json_text(v2);
          if (s.size() > 100) s = s.substr(0, 97) + "...";
          o << "    " << k2 << " = " << s << "\n";
        }
      } else if (v.is_array()) {
        o << "  " << k << ": " << v.size() << " entries\n";
      } else {
        o << "  " << k << " = " << (v.is_string() ? v.get<std::string>() : json_text(v)) << "\n";
      }
    }
  }
  return o.str();
}

// ---------------------------------------------------------------- HTML

std::string html_escape(const std::string& s) {
  std::string r;
  r.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      case '\'': r += "&#39;"; break;
      default: r += ch;
    }
  }
  return r;
}

namespace {

const char* kCss = R"CSS(
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.sub{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f5f7}
td.n{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,Menlo,Consolas,monospace}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{background:#e6e8ec}
.good{color:#17803d}.bad{color:#b42318}
.p-U8{background:#e0ecff}.p-I8{background:#efe3ff}.p-FP32{background:#f1f1f1}
.tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px}
.kv td:first-child{color:#555;white-space:nowrap}
.big{font-size:20px;font-weight:600}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:140px}
.card .l{color:#666;font-size:12px}
svg text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}
)CSS";

const char* kSortJs = R"JS(
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows),asc=th.dataset.dir!=='asc';
      t.querySelectorAll('th').forEach(function(h){h.dataset.dir='';});th.dataset.dir=asc?'asc':'desc';
      rows.sort(function(a,b){
        var x=a.cells[i].dataset.v,y=b.cells[i].dataset.v;
        if(x!==undefined&&y!==undefined){x=parseFloat(x);y=parseFloat(y);
          if(isNaN(x))x=Infinity;if(isNaN(y))y=Infinity;return asc?x-y:y-x;}
        x=a.cells[i].textContent;y=b.cells[i].textContent;return asc?x.localeCompare(y):y.localeCompare(x);});
      rows.forEach(function(r){tb.appendChild(r);});});});});
)JS";

std::string scalar_html(const json& v) {
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_number_float()) return fmt("%.6g", v.get<double>());
  if (v.is_null()) return "&ndash;";
  return html_escape(json_text(v));
}

// Generic rendering of any JSON (calibration reports: the schema may evolve).
std::string json_html(const json& v, int depth) {
  if (depth > 4) {
    std::string s = json_text(v);
    if (s.size() > 300) s = s.substr(0, 297) + "...";
    return "<code>" + html_escape(s) + "</code>";
  }
  if (v.is_object()) {
    if (v.empty()) return "&ndash;";
    std::string s = "<table class=\"kv\">";
    for (auto& [k, x] : v.items()) s += "<tr><td>" + html_escape(k) + "</td><td>" + json_html(x, depth + 1) + "</td></tr>";
    return s + "</table>";
  }
  if (v.is_array()) {
    if (v.empty()) return "[]";
    bool objs = std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
    if (objs) {
      std::vector<std::string> cols;
      for (auto& e : v)
        for (auto& [k, x] : e.items())
          if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
      std::string s = "<table class=\"sortable\"><thead><tr>";
      for (auto& c : cols) s += "<th>" + html_escape(c) + "</th>";
      s += "</tr></thead><tbody>";
      size_t shown = 0;
      for (auto& e : v) {
        if (++shown > 500) break;
        s += "<tr>";
        for (auto& c : cols) {
          auto it = e.find(c);
          if (it == e.end()) s += "<td></td>";
          else if (it->is_number()) s += "<td class=\"n\" data-v=\"" + fmt("%.17g", it->get<double>()) + "\">" + scalar_html(*it) + "</td>";
          else s += "<td>" + json_html(*it, depth + 1) + "</td>";
        }
        s += "</tr>";
      }
      s += "</tbody></table>";
      if (v.size() > 500) s += fmt("<p class=\"sub\">%zu more rows not shown</p>", v.size() - 500);
      return s;
    }
    std::string s;
    size_t k = 0;
    for (auto& e : v) {
      if (k++ == 64) {
        s += fmt(", &hellip; (%zu total)", v.size());
        break;
      }
      s += (s.empty() ? "" : ", ") + (e.is_primitive() ? scalar_html(e) : json_html(e, depth + 1));
    }
    return s;
  }
  return scalar_html(v);
}

// Horizontal log-scale bar chart of per-layer NMSE.
std::string nmse_chart(const json& rows) {
  struct Bar {
    std::string name, prec;
    double v;
  };
  std::vector<Bar> bars;
  for (auto& r : rows)
    if (r["nmse"].is_number()) bars.push_back({str(r, "name"), str(r, "precision"), r["nmse"].get<double>()});
  if (bars.empty()) return "<p class=\"sub\">No matched layers to chart.</p>";
  double lo = 1e300, hi = 0;
  for (auto& b : bars)
    if (b.v > 0) lo = std::min(lo, b.v), hi = std::max(hi, b.v);
  if (hi == 0)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"30\" role=\"img\"><text x=\"4\" y=\"20\">"
           "Every layer output is identical (NMSE 0 everywhere).</text></svg>";
  int d0 = int(std::floor(std::log10(lo))), d1 = int(std::ceil(std::log10(hi)));
  if (std::log10(lo) - d0 < 0.05) --d0;  // keep the smallest bar visible
  if (d1 <= d0) d1 = d0 + 1;
  d0 = std::max(d0, d1 - 12);
  size_t lw = 0;
  for (auto& b : bars) lw = std::max(lw, std::min<size_t>(b.name.size(), 40));
  const double label = 12 + 6.6 * double(lw), plot = 560, rowh = 16, top = 24;
  double width = label + plot + 90, height = top + rowh * double(bars.size()) + 28;
  auto xof = [&](double v) {
    double l = std::log10(std::max(v, std::pow(10.0, d0)));
    return label + plot * (l - d0) / double(d1 - d0);
  };
  std::string s = fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                      "role=\"img\" aria-label=\"per-layer NMSE, log scale\">",
                      width, height, width, height);
  s += fmt("<text x=\"%.1f\" y=\"14\">NMSE of B vs A per layer (log scale)</text>", label);
  for (int d = d0; d <= d1; ++d) {
    double x = label + plot * double(d - d0) / double(d1 - d0);
    s += fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", x, top - 4, x,
             top + rowh * double(bars.size()));
    s += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666\">1e%d</text>", x,
             top + rowh * double(bars.size()) + 16, d);
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    double y = top + rowh * double(i);
    std::string nm = b.name.size() > 40 ? b.name.substr(0, 37) + "..." : b.name;
    const char* color = b.prec == "U8" ? "#3b6fd8" : b.prec == "I8" ? "#8a4fd8" : "#9aa0a6";
    s += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", label - 6, y + 11) + html_escape(nm) + "</text>";
    double x1 = b.v > 0 ? xof(b.v) : label;
    s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", label, y + 2,
             std::max(0.0, x1 - label), rowh - 4, color) +
         html_escape(b.name) + fmt(": NMSE %.3e (%s)</title></rect>", b.v, b.prec.c_str());
    s += fmt("<text x=\"%.1f\" y=\"%.1f\" fill=\"#444\">%s</text>", x1 + 4, y + 11,
             b.v > 0 ? fmt("%.2e", b.v).c_str() : "0");
  }
  s += "</svg>";
  return s;
}

}  // namespace

std::string report_html(const json& j) {
  const json &a = j.at("a"), &b = j.at("b");
  std::string pa = str(a, "path"), pb = str(b, "path");
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>calibr8 compare: " + html_escape(base_name(pa)) + " vs " + html_escape(base_name(pb)) + "</title>\n";
  h += "<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  h += "<h1>calibr8 compare</h1>\n<p class=\"sub\">A (reference) <b>" + html_escape(pa) + "</b> vs B (candidate) <b>" +
       html_escape(pb) + "</b> &middot; " + html_escape(str(j, "created")) + "</p>\n";

  // Headline cards.
  h += "<div class=\"cards\">";
  auto card = [&](const std::string& l, const std::string& v, const std::string& cls = "") {
    h += "<div class=\"card\"><div class=\"l\">" + html_escape(l) + "</div><div class=\"big " + cls + "\">" + v + "</div></div>";
  };
  if (j.contains("accuracy")) {
    double drop = num(j["accuracy"], "drop");
    card(str(j["accuracy"], "label") + " drop", fmt("%+.2f pt", 100 * drop), drop <= 0.01 ? "good" : "bad");
    if (j["accuracy"].contains("agreement")) card("top-1 agreement", pct(num(j["accuracy"], "agreement")));
  }
  if (j.contains("agreement")) {
    const json& g = j["agreement"];
    if (g.contains("pseudo_map50")) card("pseudo-mAP@0.5 (B vs A)", pct(num(g, "pseudo_map50")));
    if (has_num(g, "pixel_agreement")) card("pixel agreement", pct(num(g, "pixel_agreement")));
    if (!j.contains("accuracy") && has_num(g, "top1_agreement")) card("top-1 agreement", pct(num(g, "top1_agreement")));
  }
  if (j.contains("speed")) {
    double sp = num(j["speed"], "speedup");
    card("speedup (batch 1)", fmt("%.2fx", sp), sp >= 1 ? "good" : "bad");
  }
  if (num(a, "file_bytes") > 0 && num(b, "file_bytes") > 0)
    card("size B / A", fmt("%.2f", num(b, "file_bytes") / num(a, "file_bytes")));
  h += "</div>\n";

  // Summary table.
  h += "<h2>Summary</h2>\n<table class=\"summary\"><thead><tr><th></th><th>A (reference)</th><th>B (candidate)</th><th>B &minus; A</th></tr></thead><tbody>\n";
  auto tr = [&](const std::string& k, const std::string& va, const std::string& vb, const std::string& d = "") {
    h += "<tr><td>" + html_escape(k) + "</td><td class=\"n\">" + va + "</td><td class=\"n\">" + vb + "</td><td class=\"n\">" + d + "</td></tr>\n";
  };
  tr("model", html_escape(pa), html_escape(pb));
  tr("file size", human_bytes(num(a, "file_bytes")), human_bytes(num(b, "file_bytes")),
     human_bytes(std::fabs(num(b, "file_bytes") - num(a, "file_bytes"))) + (num(b, "file_bytes") < num(a, "file_bytes") ? " smaller" : " larger"));
  tr("parameters", fmt("%.0f", num(a, "parameters")), fmt("%.0f", num(b, "parameters")));
  if (j.contains("task"))
    h += "<tr><td>task</td><td colspan=\"3\">" + html_escape(str(j["task"], "task") + " (" + str(j["task"], "from") +
                                                               "; decoder " + str(j["task"], "adapter") + ")") +
         "</td></tr>\n";
  if (j.contains("accuracy") && j["accuracy"].contains("top1_drop")) {
    tr("top-1", pct(num(a, "top1")), pct(num(b, "top1")), fmt("%+.2f pt", 100 * (num(b, "top1") - num(a, "top1"))));
    tr("top-5", pct(num(a, "top5")), pct(num(b, "top5")), fmt("%+.2f pt", 100 * (num(b, "top5") - num(a, "top5"))));
    const json& acc = j["accuracy"];
    h += "<tr><td>top-1 agreement</td><td class=\"n\" colspan=\"3\">" + pct(num(acc, "agreement")) +
         fmt(" (%.0f of %.0f images)", num(acc, "agree_images"), num(acc, "images")) + "</td></tr>\n";
  } else if (j.contains("accuracy")) {
    const json &ma = a.at("metrics"), &mb = b.at("metrics");
    for (auto& [k, v] : ma.items())
      if (v.is_number() && mb.contains(k))
        tr(metric_label(k), pct(v.get<double>()), pct(num(mb, k.c_str())), fmt("%+.2f pt", 100 * (num(mb, k.c_str()) - v.get<double>())));
  }
  if (j.contains("accuracy_note"))
    h += "<tr><td>accuracy</td><td colspan=\"3\">not measured: " + html_escape(str(j, "accuracy_note")) + "</td></tr>\n";
  if (j.contains("agreement"))
    for (auto& out : j["agreement"].value("outputs", json::array()))
      if (out.contains("cosine"))
        h += "<tr><td>output " + html_escape(str(out, "name")) + "</td><td class=\"n\" colspan=\"3\">" +
             fmt("cosine %.6f, NMSE ", num(out, "cosine")) + sci(out["nmse"]) + ", max abs error " + sci(out["max_abs"]) +
             fmt(" (B vs A, %.0f images)", num(out, "images")) + "</td></tr>\n";
  if (j.contains("speed")) {
    const json &la = a.at("latency"), &lb = b.at("latency");
    tr("latency median", fmt("%.3f ms", num(la, "median_ms")), fmt("%.3f ms", num(lb, "median_ms")),
       fmt("%+.3f ms", num(lb, "median_ms") - num(la, "median_ms")));
    tr("latency p90", fmt("%.3f ms", num(la, "p90_ms")), fmt("%.3f ms", num(lb, "p90_ms")),
       fmt("%+.3f ms", num(lb, "p90_ms") - num(la, "p90_ms")));
    tr("throughput", fmt("%.1f img/s", num(a, "throughput_ips")), fmt("%.1f img/s", num(b, "throughput_ips")));
    tr("timed runs", fmt("%.0f", num(la, "runs")), fmt("%.0f", num(lb, "runs")));
    const json& sp = j["speed"];
    h += "<tr><td>speedup</td><td class=\"n\" colspan=\"3\">" +
         fmt("%.2fx (A median / B median; batch %.0f, %.0f thread(s), %.0f interleaved A/B rounds in %.1f s)",
             num(sp, "speedup"), num(sp, "batch"), num(j, "threads"), num(sp, "rounds"), num(sp, "seconds")) +
         "</td></tr>\n";
  }
  auto kern = [](const json& m) {
    std::string s;
    if (m.contains("kernels"))
      for (auto& [k, n] : m["kernels"].items())
        s += (s.empty() ? "" : "<br>") + html_escape(k) + " &times;" + std::to_string(n.get<int>());
    return s;
  };
  tr("kernels", kern(a), kern(b));
  h += "</tbody></table>\n";
  if (j.contains("dataset")) {
    const json& ds = j["dataset"];
    h += "<p class=\"sub\">Data set <b>" + html_escape(str(ds, "path")) + "</b> (" + html_escape(str(ds, "format")) +
         fmt(", %.0f images), evaluation batch %.0f, preprocessing <code>", num(ds, "images"), num(j, "eval_batch")) +
         html_escape(json_text(j.value("preprocess", json::object()))) + "</code></p>\n";
  }

  // Per-layer.
  if (j.contains("layers")) {
    const json& L = j["layers"];
    h += "<h2>Per layer</h2>\n<p class=\"sub\">Each layer of B matched to A's value of the same output name, both run "
         "unoptimised so names survive; cosine similarity and NMSE = &Sigma;(a&minus;b)&sup2; / &Sigma;a&sup2; averaged "
         "over " + fmt("%.0f", num(L, "images")) + " image(s). Precision: the 8-bit type of the layer's activations "
         "(U8/I8) as run by B's kernel or, on the float path, as the QDQ graph simulates it; &ldquo;int8 math&rdquo; marks "
         "kernels computing in integer arithmetic. Click a column header to sort.</p>\n";
    h += nmse_chart(L["rows"]);
    h += "\n<table class=\"sortable layers\"><thead><tr><th>#</th><th>layer</th><th>op</th><th>precision</th><th>weights</th>"
         "<th>kernel (B)</th><th>cosine</th><th>NMSE</th><th>NMSE max</th><th>max |a&minus;b|</th></tr></thead><tbody>\n";
    int i = 0;
    for (auto& r : L["rows"]) {
      auto ncell = [&](const json& v, bool s) {
        if (!v.is_number()) return std::string("<td class=\"n\" data-v=\"NaN\">&ndash;</td>");
        double x = v.get<double>();
        return "<td class=\"n\" data-v=\"" + fmt("%.17g", x) + "\">" + (s ? sci(v) : fmt("%.6f", x)) + "</td>";
      };
      std::string prec = str(r, "precision");
      h += fmt("<tr><td class=\"n\" data-v=\"%d\">%d</td>", i, i + 1);
      h += "<td>" + html_escape(str(r, "name")) + (r.contains("note") ? "<br><span class=\"sub\">" + html_escape(str(r, "note")) + "</span>" : "") + "</td>";
      h += "<td>" + html_escape(str(r, "op")) + "</td>";
      h += "<td><span class=\"tag p-" + html_escape(prec) + "\">" + html_escape(prec) + "</span>" +
           (r.value("int8_kernel", false) ? " <span class=\"sub\">int8 math</span>" : (prec != "FP32" ? " <span class=\"sub\">(f32 math)</span>" : "")) + "</td>";
      h += "<td>" + html_escape(str(r, "weights")) + "</td><td><code>" + html_escape(str(r, "impl")) + "</code></td>";
      h += ncell(r["cosine"], false) + ncell(r["nmse"], true) + ncell(r["nmse_max"], true) + ncell(r["max_abs"], true);
      h += "</tr>\n";
      ++i;
    }
    h += "</tbody></table>\n";
    if (L.contains("fast_output"))
      h += "<p class=\"sub\">Model output through the optimised runtimes (B's fused kernels, as deployed): cosine " +
           fmt("%.6f", num(L["fast_output"], "cosine")) + ", NMSE " + sci(L["fast_output"]["nmse"]) + ".</p>\n";
  }

  if (j.contains("calibration")) {
    h += "<h2>Calibration</h2>\n";
    const json& c = j["calibration"];
    if (c.is_object()) {
      json scalars = json::object();
      for (auto& [k, v] : c.items())
        if (v.is_primitive()) scalars[k] = v;
      if (!scalars.empty()) h += json_html(scalars, 0);
      for (auto& [k, v] : c.items())
        if (!v.is_primitive()) h += "<h3>" + html_escape(k) + "</h3>\n" + json_html(v, 1) + "\n";
    } else {
      h += json_html(c, 0);
    }
  }
  h += "\n<p class=\"sub\">Generated by calibr8 compare.</p>\n<script>" + std::string(kSortJs) + "</script>\n</body>\n</html>\n";
  return h;
}

// ---------------------------------------------------------------- files

json read_json_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_limited(path);  // regular files only: a FIFO would block
  return parse_json_bounded(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace c8
