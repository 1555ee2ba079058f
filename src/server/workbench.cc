#include "server/workbench.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <initializer_list>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "eval/datasets/dataset.h"
#include "eval/task.h"
#include "server/archive.h"
#include "server/child.h"
#include "server/thumbnail.h"
#include "runtime/tuning.h"
#include "base/progress_lines.h"

extern const unsigned char c8_web_index[];
extern const size_t c8_web_index_size;

namespace c8 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string random_name(const std::string& prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard<std::mutex> lk(mu);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return prefix + buf;
}

// A display name from an uploaded file name: its last component, printable
// ASCII from a safe set, at most 100 characters. It is never used as a path.
std::string clean_name(const std::string& raw, const std::string& fallback) {
  std::string base = raw.substr(raw.find_last_of("/\\") == std::string::npos ? 0 : raw.find_last_of("/\\") + 1);
  std::string out;
  for (char c : base)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ' ') out += c;
  while (!out.empty() && (out[0] == '.' || out[0] == ' ')) out.erase(0, 1);
  if (out.size() > 100) out.resize(100);
  return out.empty() ? fallback : out;
}

void reply(httplib::Response& res, int status, const json& j) {
  res.status = status;
  // Names from uploads may hold any bytes: replaced, never an exception.
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void fail(httplib::Response& res, int status, const std::string& msg) { reply(res, status, {{"error", msg}}); }

bool parse_body(const httplib::Request& req, httplib::Response& res, json& j) {
  j = json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    fail(res, 400, "the request body is not a JSON object");
    return false;
  }
  return true;
}

// The route's numeric id; -1 (found nowhere) when it does not fit 64 bits.
int64_t id_of(const httplib::Request& req) {
  const std::string t = req.matches[1].str();
  if (t.empty() || t.size() > 18) return -1;
  return std::stoll(t);
}

// Integer / number / string fields of a JSON body, type- and range-checked:
// false (with a 400 answer) when the field is there but wrong.
bool int_field(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi, int64_t& out, httplib::Response& res) {
  out = def;
  if (!j.contains(key)) return true;
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < lo || j[key].get<int64_t>() > hi) {
    reply(res, 400, {{"error", std::string(key) + ": an integer in " + std::to_string(lo) + ".." + std::to_string(hi)}});
    return false;
  }
  out = j[key].get<int64_t>();
  return true;
}
bool num_field(const json& j, const char* key, double def, double lo, double hi, double& out, httplib::Response& res) {
  out = def;
  if (!j.contains(key)) return true;
  if (!j[key].is_number() || !(j[key].get<double>() >= lo && j[key].get<double>() <= hi)) {
    reply(res, 400, {{"error", std::string(key) + ": a number in " + std::to_string(lo) + ".." + std::to_string(hi)}});
    return false;
  }
  out = j[key].get<double>();
  return true;
}
bool str_field(const json& j, const char* key, const std::string& def, std::initializer_list<const char*> allowed,
               std::string& out, httplib::Response& res) {
  out = def;
  if (!j.contains(key)) return true;
  bool ok = j[key].is_string();
  if (ok) {
    ok = false;
    for (const char* a : allowed) ok |= j[key].get<std::string>() == a;
  }
  if (!ok) {
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : " or ") + std::string(a);
    reply(res, 400, {{"error", std::string(key) + ": " + list}});
    return false;
  }
  out = j[key].get<std::string>();
  return true;
}

// A data set entry must stay inside the extracted folder: no absolute paths,
// no ".." (the archive itself held no links).
bool inside(const std::string& rel) {
  const fs::path p(rel);
  if (p.is_absolute()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

// Browsers send Origin on cross-site requests, and a DNS-rebinding page
// reaches us under a foreign Host: on loopback both must name this machine.
bool local_name(const std::string& hostport) {
  std::string h = hostport;
  if (!h.empty() && h[0] == '[') h = h.substr(0, h.find(']') + 1);
  else h = h.substr(0, h.find(':'));
  return h == "localhost" || h == "127.0.0.1" || h == "[::1]";
}

const char* kPreprocessKeys[] = {"resize", "crop", "size", "mean", "std", "layout", "color", "label_offset", "label_ids"};

bool terminal(const std::string& state) { return state == "done" || state == "failed" || state == "cancelled"; }

// Thumbnails a data set offers (the first images in file order), and their size.
constexpr size_t kThumbnails = 8;
constexpr int kThumbnailSide = 96;

json dataset_view(json d) {
  d.erase("dir");
  if (d["info"].is_object()) d["thumbnails"] = std::min<size_t>(kThumbnails, d["info"].value("images", size_t(0)));
  return d;
}

// A job's result without the server's own paths (the data dir's layout is
// not the client's business): every string loses the data dir prefix.
json hide_paths(json j, const std::string& dir) {
  if (j.is_string()) {
    std::string t = j.get<std::string>();
    for (size_t p; (p = t.find(dir)) != std::string::npos;) t.erase(p, dir.size());
    return t;
  }
  if (j.is_structured())
    for (auto& v : j) v = hide_paths(v, dir);
  return j;
}

// A finished job's report file, sent as a download without the data dir in it.
void send_file(httplib::Response& res, const std::string& path, const std::string& download_name, const std::string& type,
               const std::string& hide) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(res, 404, "this job wrote no such report");
  std::stringstream ss;
  ss << f.rdbuf();
  res.set_header("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
  res.set_content(hide_paths(ss.str(), hide).get<std::string>(), type);
}

}  // namespace

Workbench::Workbench(ServeOptions o) : o_(std::move(o)) {
  if (o_.data_dir.empty()) throw Error("serve: no --data-dir");
  {  // one absolute spelling without a trailing '/': hide_paths strips exactly this prefix
    std::error_code ec;
    fs::path d = fs::weakly_canonical(fs::absolute(o_.data_dir), ec);
    if (ec) throw Error(o_.data_dir + ": cannot resolve the data dir: " + ec.message());
    o_.data_dir = d.string();
    while (o_.data_dir.size() > 1 && o_.data_dir.back() == '/') o_.data_dir.pop_back();
  }
  if (o_.exe.empty()) throw Error("serve: the calibr8 binary to run jobs with is unknown");
  std::error_code ec;
  for (const char* sub : {"models", "datasets", "jobs", "thumbs"}) fs::create_directories(fs::path(o_.data_dir) / sub, ec);
  if (ec) throw Error(o_.data_dir + ": cannot create the data dir: " + ec.message());
  store_ = std::make_unique<Store>((fs::path(o_.data_dir) / "workbench.db").string());
  // Nothing is silently lost over a restart: what was running failed, and says why.
  store_->query(
      "UPDATE jobs SET state = 'failed', message = 'interrupted: the server stopped while the job ran', finished = ?1, "
      "progress_json = NULL WHERE state = 'running'",
      {now_iso()});
  store_->query(
      "UPDATE models SET state = 'failed' WHERE state = 'calibrating' AND id NOT IN "
      "(SELECT json_extract(params_json, '$.target_model_id') FROM jobs WHERE state = 'queued')");
  http_ = std::make_unique<httplib::Server>();
  routes();
  worker_ = std::thread([this] { worker(); });
}

Workbench::~Workbench() {
  stop();
  if (worker_.joinable()) worker_.join();
}

int Workbench::bind() {
  int port = o_.port == 0 ? http_->bind_to_any_port(o_.host.c_str()) : (http_->bind_to_port(o_.host.c_str(), o_.port) ? o_.port : -1);
  if (port <= 0) throw Error("serve: cannot listen on " + o_.host + ":" + std::to_string(o_.port));
  return port;
}

void Workbench::run() { http_->listen_after_bind(); }

void Workbench::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    cancel_current_ = true;
  }
  cv_.notify_all();
  if (http_) http_->stop();
}

json Workbench::model_view(const json& m) {
  json v = m;
  v.erase("file");
  std::string why;
  if (!m["parent_id"].is_null()) why = "a calibration result: only an original model is calibrated";
  else if (m["state"] != "ready") why = "the model is not ready";
  else if (m["info"].is_object() && m["info"].value("weight_precision", "") != "FP32" && m["info"].value("weight_precision", "") != "FP16")
    why = "weights are " + m["info"].value("weight_precision", std::string("?")) + ", not FP32 / FP16";
  else if (m["info"].is_object() && !m["info"].value("calibratable", false)) why = "no layer calibr8 can run in INT8";
  v["can_calibrate"] = why.empty();
  if (!why.empty()) v["calibrate_disabled_reason"] = why;
  return v;
}

void Workbench::routes() {
  httplib::Server& s = *http_;
  s.set_payload_max_length(o_.max_upload_bytes);
  s.new_task_queue = [] { return new httplib::ThreadPool(32); };
  const bool loop = o_.host == "127.0.0.1" || o_.host == "localhost" || o_.host == "::1";
  s.set_pre_routing_handler([this, loop](const httplib::Request& req, httplib::Response& res) {
    if (loop) {
      const std::string origin = req.get_header_value("Origin");
      const std::string scheme = "http://";
      if (!local_name(req.get_header_value("Host")) ||
          (!origin.empty() && (origin.compare(0, scheme.size(), scheme) != 0 || !local_name(origin.substr(scheme.size()))))) {
        fail(res, 403, "requests must come from this machine (Host / Origin localhost or 127.0.0.1)");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // JSON bodies are small; only the two upload routes take large ones.
    if (req.body.size() > (size_t(1) << 20) && req.path != "/api/models" && req.path != "/api/datasets") {
      fail(res, 413, "request body too large (1 MB for JSON)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (o_.token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + o_.token || req.get_param_value("token") == o_.token)
      return httplib::Server::HandlerResponse::Unhandled;
    fail(res, 401, "a token is required: Authorization: Bearer <token> (printed by calibr8 serve)");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    fail(res, 500, msg);
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) fail(res, 404, "no such route: " + req.method + " " + req.path);
    else if (res.status == 413 && req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos)
      // cpp-httplib caps url-encoded form bodies at 8 KB (curl --data-binary's default type)
      fail(res, 413, "send uploads as Content-Type: application/octet-stream (url-encoded form bodies are capped at 8 KB)");
    else if (res.status == 413) fail(res, 413, "upload too large");
    else fail(res, res.status, "request refused");
  });

  s.Get("/api/health", [](const httplib::Request&, httplib::Response& res) { reply(res, 200, {{"ok", true}}); });
  // The target machine of every project (local for now): the CPU the jobs run on.
  s.Get("/api/system", [](const httplib::Request&, httplib::Response& res) {
    const std::string sig = machine_signature();
    reply(res, 200, {{"target", "local"}, {"cpu", sig.substr(0, sig.find(';'))}, {"machine", sig},
                     {"cpus", std::thread::hardware_concurrency()}});
  });

  // ---- models ----
  s.Post("/api/models", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = clean_name(req.get_param_value("name"), "model.onnx");
    if (req.body.empty()) return fail(res, 400, "the request body must be the ONNX file");
    const std::string file = (fs::path(o_.data_dir) / "models" / (random_name("m") + ".onnx")).string();
    write_file_atomic(file, req.body);
    std::atomic<bool> no{false};
    const std::string log = (fs::path(o_.data_dir) / "jobs" / random_name("import-")).string();
    ChildResult r;
    std::error_code ec;
    try {
      r = run_child(o_.exe, {"info", file, "--json"}, log, no, 300);
    } catch (...) {
      fs::remove(file, ec);
      throw;
    }
    fs::remove(log + ".out", ec), fs::remove(log + ".err", ec);
    json info = json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !info.is_object()) {
      fs::remove(file, ec);
      std::string why = last_line(r.err);
      for (size_t p; (p = why.find(file)) != std::string::npos;) why.replace(p, file.size(), name);
      return fail(res, 400, why.empty() ? name + ": not a model calibr8 can load" : why);
    }
    info.erase("model");
    info["size_bytes"] = req.body.size();
    const int64_t id = store_->insert(
        "INSERT INTO models (name, file, created, state, info_json, preprocess_json) VALUES (?1, ?2, ?3, 'ready', ?4, '{}')",
        {name, file, now_iso(), info});
    reply(res, 201, model_view(*store_->row("models", id)));
  });
  s.Get("/api/models", [this](const httplib::Request&, httplib::Response& res) {
    json a = json::array();
    for (const json& m : store_->query("SELECT * FROM models ORDER BY id")) a.push_back(model_view(m));
    reply(res, 200, a);
  });
  s.Get(R"(/api/models/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto m = store_->row("models", id_of(req));
    if (!m) return fail(res, 404, "no model " + req.matches[1].str());
    reply(res, 200, model_view(*m));
  });
  s.Put(R"(/api/models/(\d+)/preprocess)", [this](const httplib::Request& req, httplib::Response& res) {
    auto m = store_->row("models", id_of(req));
    if (!m) return fail(res, 404, "no model " + req.matches[1].str());
    json j;
    if (!parse_body(req, res, j)) return;
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool known = false;
      for (const char* k : kPreprocessKeys) known |= it.key() == k;
      if (!known) return fail(res, 400, "unknown preprocessing key '" + it.key() + "' (resize, crop, size, mean, std, layout, color, label_offset, label_ids)");
      if (!it->is_string() && !it->is_number()) return fail(res, 400, "preprocessing key '" + it.key() + "': a string or a number");
    }
    store_->query("UPDATE models SET preprocess_json = ?1 WHERE id = ?2", {j, id_of(req)});
    reply(res, 200, model_view(*store_->row("models", id_of(req))));
  });
  s.Get(R"(/api/models/(\d+)/file)", [this](const httplib::Request& req, httplib::Response& res) {
    auto m = store_->row("models", id_of(req));
    if (!m || (*m)["state"] != "ready") return fail(res, 404, "no ready model " + req.matches[1].str());
    std::ifstream f((*m)["file"].get<std::string>(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    res.set_header("Content-Disposition", "attachment; filename=\"" + (*m)["name"].get<std::string>() + "\"");
    res.set_content(ss.str(), "application/octet-stream");
  });

  // ---- data sets ----
  s.Post("/api/datasets", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = clean_name(req.get_param_value("name"), "dataset");
    if (req.body.empty()) return fail(res, 400, "the request body must be a .zip or .tar.gz of the data set");
    const std::string dir = (fs::path(o_.data_dir) / "datasets" / random_name("d")).string();
    // Nothing stays behind, and the message names the upload, not our folder.
    auto refuse = [&](const std::exception& e, const std::string& path) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      std::string why = e.what();
      for (size_t p; (p = why.find(path)) != std::string::npos;) why.replace(p, path.size(), name);
      fail(res, 400, why);
    };
    try {
      extract_archive(req.body, dir, name);
    } catch (const std::exception& e) {
      return refuse(e, dir);
    }
    std::string root = dir;
    {  // one top-level folder (an archive of the folder itself): that is the data set
      std::vector<fs::path> top;
      for (const auto& e : fs::directory_iterator(dir)) top.push_back(e.path());
      if (top.size() == 1 && fs::is_directory(top[0])) root = top[0].string();
    }
    json info;
    try {
      auto ds = open_dataset(root);
      for (size_t i = 0; ds->format() != "idx" && i < ds->size(); ++i) {
        bool ok = inside(ds->name(i));
        for (const std::string& a : ds->annotation_paths(i)) ok &= a.compare(0, root.size() + 1, root + "/") == 0 && inside(a.substr(root.size() + 1));
        if (!ok) throw Error(name + ": entry " + std::to_string(i + 1) + " ('" + ds->name(i) + "') points outside the data set");
      }
      Task task;
      const bool has_task = annotation_task(*ds, task);
      info = {{"format", ds->format()}, {"images", ds->size()}, {"annotated", ds->annotated() || ds->has_boxes()},
              {"classes", ds->class_names().size()}, {"task", has_task ? json(task_name(task)) : json(nullptr)}};
    } catch (const std::exception& e) {
      return refuse(e, root);
    }
    const int64_t id = store_->insert("INSERT INTO datasets (name, dir, created, info_json) VALUES (?1, ?2, ?3, ?4)",
                                      {name, root, now_iso(), info});
    reply(res, 201, dataset_view(*store_->row("datasets", id)));
  });
  s.Get("/api/datasets", [this](const httplib::Request&, httplib::Response& res) {
    json a = json::array();
    for (const json& d : store_->query("SELECT * FROM datasets ORDER BY id")) a.push_back(dataset_view(d));
    reply(res, 200, a);
  });
  // A preview of image K of the data set, JPEG, longer side <= 96 pixels.
  s.Get(R"(/api/datasets/(\d+)/thumbnails/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto d = store_->row("datasets", id_of(req));
    if (!d) return fail(res, 404, "no data set " + req.matches[1].str());
    const std::string k = req.matches[2].str();
    const size_t n = dataset_view(*d).value("thumbnails", size_t(0));
    if (k.size() > 3 || std::stoul(k) >= n) return fail(res, 404, "data set " + req.matches[1].str() + " has " + std::to_string(n) + " thumbnails");
    // Made once, then kept under thumbs/ (a data set never changes after its upload).
    const std::string cached = (fs::path(o_.data_dir) / "thumbs" / ("d" + (*d)["id"].dump() + "-" + k + ".jpg")).string();
    try {
      std::string jpeg;
      if (fs::exists(cached)) {
        std::ifstream f(cached, std::ios::binary);
        jpeg.assign(std::istreambuf_iterator<char>(f), {});
      } else {
        auto ds = open_dataset((*d)["dir"].get<std::string>());
        jpeg = thumbnail_jpeg(ds->get(std::stoul(k)).image, kThumbnailSide);
        write_file_atomic(cached, jpeg);
      }
      res.set_header("Cache-Control", "max-age=3600");
      res.set_content(jpeg, "image/jpeg");
    } catch (const std::exception& e) {
      std::string why = e.what();
      const std::string dir = (*d)["dir"].get<std::string>();
      for (size_t p; (p = why.find(dir)) != std::string::npos;) why.replace(p, dir.size(), (*d)["name"].get<std::string>());
      fail(res, 422, why);
    }
  });

  // ---- projects ----
  auto project_view = [this](int64_t id) -> json {
    json p = *store_->row("projects", id);
    p["model"] = model_view(*store_->row("models", p["model_id"].get<int64_t>()));
    p["dataset"] = dataset_view(*store_->row("datasets", p["dataset_id"].get<int64_t>()));
    p["jobs"] = store_->query("SELECT * FROM jobs WHERE project_id = ?1 ORDER BY id", {id});
    return p;
  };
  s.Post("/api/projects", [this, project_view](const httplib::Request& req, httplib::Response& res) {
    json j;
    if (!parse_body(req, res, j)) return;
    if (!j.contains("model_id") || !j.contains("dataset_id") || !j["model_id"].is_number_integer() ||
        !j["dataset_id"].is_number_integer())
      return fail(res, 400, "a project needs model_id and dataset_id");
    if (!store_->row("models", j["model_id"].get<int64_t>())) return fail(res, 404, "no model " + j["model_id"].dump());
    if (!store_->row("datasets", j["dataset_id"].get<int64_t>())) return fail(res, 404, "no data set " + j["dataset_id"].dump());
    const int64_t id = store_->insert("INSERT INTO projects (model_id, dataset_id, created) VALUES (?1, ?2, ?3)",
                                      {j["model_id"], j["dataset_id"], now_iso()});
    reply(res, 201, project_view(id));
  });
  s.Get("/api/projects", [this, project_view](const httplib::Request&, httplib::Response& res) {
    json a = json::array();
    for (const json& p : store_->query("SELECT id FROM projects ORDER BY id")) a.push_back(project_view(p["id"].get<int64_t>()));
    reply(res, 200, a);
  });
  s.Get(R"(/api/projects/(\d+))", [this, project_view](const httplib::Request& req, httplib::Response& res) {
    if (!store_->row("projects", id_of(req))) return fail(res, 404, "no project " + req.matches[1].str());
    reply(res, 200, project_view(id_of(req)));
  });

  // ---- jobs ----
  s.Post(R"(/api/projects/(\d+)/baseline)", [this](const httplib::Request& req, httplib::Response& res) {
    if (!store_->row("projects", id_of(req))) return fail(res, 404, "no project " + req.matches[1].str());
    json j;
    if (!parse_body(req, res, j)) return;
    int64_t batch = 1, threads = 1;
    double seconds = 2;  // how long the speed measurement runs (DL Workbench's inference duration)
    if (!int_field(j, "batch", 1, 1, 4096, batch, res) || !int_field(j, "threads", 1, 1, 256, threads, res) ||
        !num_field(j, "seconds", 2, 0.5, 600, seconds, res))
      return;
    const int64_t id = store_->insert(
        "INSERT INTO jobs (project_id, kind, state, params_json, created) VALUES (?1, 'baseline', 'queued', ?2, ?3)",
        {id_of(req), json{{"batch", batch}, {"threads", threads}, {"seconds", seconds}}, now_iso()});
    cv_.notify_all();
    reply(res, 201, *store_->row("jobs", id));
  });
  s.Post(R"(/api/projects/(\d+)/calibrate)", [this, project_view](const httplib::Request& req, httplib::Response& res) {
    auto p = store_->row("projects", id_of(req));
    if (!p) return fail(res, 404, "no project " + req.matches[1].str());
    json j;
    if (!parse_body(req, res, j)) return;
    json parent = *store_->row("models", (*p)["model_id"].get<int64_t>());
    json view = model_view(parent);
    if (!view["can_calibrate"].get<bool>()) return fail(res, 409, "cannot calibrate: " + view["calibrate_disabled_reason"].get<std::string>());
    std::string method, preset;
    int64_t subset = 100;
    double max_drop = 0.5;
    if (!str_field(j, "method", "default", {"default", "accuracy-aware"}, method, res) ||
        !str_field(j, "preset", "performance", {"performance", "mixed"}, preset, res) ||
        !int_field(j, "subset_percent", 100, 1, 100, subset, res) || !num_field(j, "max_drop", 0.5, 0, 100, max_drop, res))
      return;
    json ds = *store_->row("datasets", (*p)["dataset_id"].get<int64_t>());
    if (method == "accuracy-aware" && !ds["info"].value("annotated", false))
      return fail(res, 409, "AccuracyAware needs an annotated data set; this one has no labels");
    // The calibration images: the project's (validation) data set unless another is chosen.
    int64_t calib_ds = ds["id"].get<int64_t>();
    if (!int_field(j, "calibration_dataset_id", calib_ds, 1, int64_t(1) << 53, calib_ds, res)) return;
    if (!store_->row("datasets", calib_ds)) return fail(res, 404, "no data set " + std::to_string(calib_ds));
    json warnings = json::array();
    if (calib_ds == ds["id"].get<int64_t>())
      warnings.push_back("the calibration data set is the validation data set: the accuracy measured on it after "
                         "calibration can be optimistic; import a separate calibration set to avoid that");
    // The calibrated model and its project appear at once; the job fills them in.
    const std::string file = (fs::path(o_.data_dir) / "models" / (random_name("m") + ".onnx")).string();
    std::string stem = parent["name"].get<std::string>();
    if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".onnx") stem.resize(stem.size() - 5);
    const int64_t mid = store_->insert(
        "INSERT INTO models (name, file, created, parent_id, state, preprocess_json) VALUES (?1, ?2, ?3, ?4, 'calibrating', ?5)",
        {stem + "_int8.onnx", file, now_iso(), parent["id"], parent["preprocess"]});
    const int64_t pid = store_->insert(
        "INSERT INTO projects (model_id, dataset_id, parent_id, created) VALUES (?1, ?2, ?3, ?4)",
        {mid, (*p)["dataset_id"], id_of(req), now_iso()});
    json params = {{"method", method}, {"preset", preset}, {"subset_percent", subset}, {"max_drop", max_drop},
                   {"calibration_dataset_id", calib_ds}, {"target_model_id", mid}, {"target_project_id", pid}};
    const int64_t jid = store_->insert(
        "INSERT INTO jobs (project_id, kind, state, params_json, created) VALUES (?1, 'calibrate', 'queued', ?2, ?3)",
        {pid, params, now_iso()});
    cv_.notify_all();
    reply(res, 201, {{"job", *store_->row("jobs", jid)}, {"project", project_view(pid)}, {"warnings", warnings}});
  });
  // compare: project ID's model (the candidate) against another project's
  // model (the reference) on ID's data set; the job's result is `calibr8
  // compare --json` (accuracy or agreement, speed, the per-layer table).
  s.Post(R"(/api/projects/(\d+)/compare)", [this](const httplib::Request& req, httplib::Response& res) {
    auto p = store_->row("projects", id_of(req));
    if (!p) return fail(res, 404, "no project " + req.matches[1].str());
    json j;
    if (!parse_body(req, res, j)) return;
    int64_t ref = 0, threads = 1;
    if (!int_field(j, "reference_project_id", 0, 1, int64_t(1) << 53, ref, res) || !int_field(j, "threads", 1, 1, 256, threads, res)) return;
    if (ref == 0) return fail(res, 400, "reference_project_id: the project whose model is the reference");
    auto rp = store_->row("projects", ref);
    if (!rp) return fail(res, 404, "no project " + std::to_string(ref));
    for (const json* q : {&*rp, &*p}) {
      json m = *store_->row("models", (*q)["model_id"].get<int64_t>());
      if (m["state"] != "ready") return fail(res, 409, "project " + (*q)["id"].dump() + ": its model is not ready (" + m["state"].get<std::string>() + ")");
    }
    const int64_t jid = store_->insert(
        "INSERT INTO jobs (project_id, kind, state, params_json, created) VALUES (?1, 'compare', 'queued', ?2, ?3)",
        {id_of(req), json{{"reference_project_id", ref}, {"threads", threads}}, now_iso()});
    cv_.notify_all();
    reply(res, 201, *store_->row("jobs", jid));
  });
  s.Get(R"(/api/jobs/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto j = store_->row("jobs", id_of(req));
    if (!j) return fail(res, 404, "no job " + req.matches[1].str());
    reply(res, 200, *j);
  });
  // Reports a finished job wrote: calibrate and compare -> report.json, compare -> report.html.
  s.Get(R"(/api/jobs/(\d+)/report\.(json|html))", [this](const httplib::Request& req, httplib::Response& res) {
    auto j = store_->row("jobs", id_of(req));
    if (!j || (*j)["state"] != "done") return fail(res, 404, "no finished job " + req.matches[1].str());
    const std::string ext = req.matches[2].str();
    const std::string path = (fs::path(o_.data_dir) / "jobs" / ("job" + (*j)["id"].dump() + ".report." + ext)).string();
    send_file(res, path, "job" + (*j)["id"].dump() + "-" + (*j)["kind"].get<std::string>() + "-report." + ext,
              ext == "json" ? "application/json" : "text/html; charset=utf-8", o_.data_dir + "/");
  });
  s.Post(R"(/api/jobs/(\d+)/cancel)", [this](const httplib::Request& req, httplib::Response& res) {
    const int64_t id = id_of(req);
    {
      // Under the worker's lock: the state cannot change between the read and the write.
      std::lock_guard<std::mutex> lk(mu_);
      auto j = store_->row("jobs", id);
      if (!j) return fail(res, 404, "no job " + req.matches[1].str());
      if ((*j)["state"] == "queued")
        store_->query(
            "UPDATE jobs SET state = 'cancelled', message = 'cancelled before it ran', finished = ?1 WHERE id = ?2 AND state = 'queued'",
            {now_iso(), id});
      else if ((*j)["state"] == "running" && current_job_ == id)
        cancel_current_ = true;
    }
    reply(res, 202, *store_->row("jobs", id));
  });
  // Server-Sent Events: the job's row each time it changes, until it ends.
  s.Get(R"(/api/jobs/(\d+)/events)", [this](const httplib::Request& req, httplib::Response& res) {
    const int64_t id = id_of(req);
    if (!store_->row("jobs", id)) return fail(res, 404, "no job " + req.matches[1].str());
    // At most kMaxStreams at once, each for at most ~30 s (EventSource
    // reconnects by itself): streams never tie up the threads other calls need.
    constexpr int kMaxStreams = 16;
    if (streams_.fetch_add(1) >= kMaxStreams) {
      streams_.fetch_sub(1);
      return fail(res, 503, "too many event streams open; poll GET /api/jobs/ID instead");
    }
    auto last = std::make_shared<std::string>();
    auto rounds = std::make_shared<int>(0);
    res.set_chunked_content_provider("text/event-stream", [this, id, last, rounds](size_t, httplib::DataSink& sink) {
      if (++*rounds > 6) {
        sink.done();
        return true;
      }
      for (int i = 0; i < 50; ++i) {
        auto j = store_->row("jobs", id);
        if (!j) return false;
        const std::string text = j->dump();
        if (text != *last) {
          *last = text;
          const std::string ev = "data: " + text + "\n\n";
          if (!sink.write(ev.data(), ev.size())) return false;
          if (terminal((*j)["state"].get<std::string>())) {
            sink.done();
            return true;
          }
        }
        {
          std::lock_guard<std::mutex> lk(mu_);
          if (stopping_) return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      const std::string ping = ": keep-alive\n\n";
      return sink.write(ping.data(), ping.size());
    }, [this](bool) { streams_.fetch_sub(1); });
  });

  s.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  // The front end: one self-contained page (src/server/web/index.html).
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'");
    res.set_content(std::string(reinterpret_cast<const char*>(c8_web_index), c8_web_index_size), "text/html; charset=utf-8");
  });
}

void Workbench::worker() {
  for (;;) {
    json job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      for (;;) {
        if (stopping_) return;
        try {
          auto rows = store_->query("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1");
          if (!rows.empty()) {
            job = rows[0];
            current_job_ = job["id"].get<int64_t>();
            cancel_current_ = false;
            store_->query("UPDATE jobs SET state = 'running', started = ?1 WHERE id = ?2", {now_iso(), job["id"]});
            break;
          }
        } catch (const std::exception& e) {  // a locked or broken database: try again later
          std::fprintf(stderr, "calibr8 serve: %s\n", e.what());
          current_job_ = 0;
        }
        cv_.wait_for(lk, std::chrono::seconds(1));
      }
    }
    std::string state = "done", message;
    try {
      run_job(job);
    } catch (const std::exception& e) {
      state = cancel_current_ ? "cancelled" : "failed";
      message = e.what();
    }
    try {
      std::lock_guard<std::mutex> lk(mu_);
      store_->query("UPDATE jobs SET state = ?1, message = COALESCE(?2, message), finished = ?3, progress_json = NULL WHERE id = ?4",
                    {state, message.empty() ? json(nullptr) : json(message), now_iso(), job["id"]});
      if (state != "done" && job["kind"] == "calibrate")
        store_->query("UPDATE models SET state = 'failed' WHERE id = ?1", {job["params"]["target_model_id"]});
      current_job_ = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "calibr8 serve: job %lld: cannot record its end: %s\n", static_cast<long long>(job["id"].get<int64_t>()), e.what());
      std::lock_guard<std::mutex> lk(mu_);
      current_job_ = 0;
    }
  }
}

void Workbench::run_job(const json& job) {
  const int64_t jid = job["id"].get<int64_t>();
  const json params = job["params"];
  const std::string log = (fs::path(o_.data_dir) / "jobs" / ("job" + std::to_string(jid))).string();
  auto stage = [&](const std::string& s) {
    store_->query("UPDATE jobs SET stage = ?1, progress_json = NULL WHERE id = ?2", {s, jid});
  };
  auto child = [&](const std::string& name, const std::vector<std::string>& args) {
    stage(name);
    // Progress within the stage: the child's last progress line (base/progress_lines.h).
    std::string shown;
    auto tick = [&] {
      try {
        auto p = last_progress_line(file_tail(log + "." + name + ".err", 4096));
        if (!p) return;
        json pj = {{"step", p->label}, {"done", p->done}, {"total", p->total}};
        const std::string text = pj.dump(-1, ' ', false, json::error_handler_t::replace);
        if (text == shown) return;
        shown = text;
        store_->query("UPDATE jobs SET progress_json = ?1 WHERE id = ?2", {json::parse(text), jid});
      } catch (const std::exception& e) {  // progress is a nicety: a busy database must not stop the job
        std::fprintf(stderr, "calibr8 serve: job %lld: progress not recorded: %s\n", static_cast<long long>(jid), e.what());
      }
    };
    ChildResult r = run_child(o_.exe, args, log + "." + name, cancel_current_, o_.job_timeout_seconds, tick);
    if (r.cancelled) throw Error("cancelled");
    if (r.timed_out) throw Error(name + " took longer than the job time limit");
    if (r.exit_code != 0) {
      std::string why = hide_paths(last_line(r.err), o_.data_dir + "/").get<std::string>();
      throw Error(why.empty() ? name + " failed (exit " + std::to_string(r.exit_code) + ")" : why);
    }
    json out = json::parse(r.out, nullptr, false);
    if (out.is_discarded()) throw Error(name + " printed no JSON");
    return out;
  };
  const json project = *store_->row("projects", job["project_id"].get<int64_t>());
  json model = *store_->row("models", project["model_id"].get<int64_t>());
  const json ds = *store_->row("datasets", project["dataset_id"].get<int64_t>());
  const std::string cfg = log + ".preprocess.json";
  write_file_atomic(cfg, (model["preprocess"].is_object() ? model["preprocess"] : json::object()).dump());
  const std::string dir = ds["dir"].get<std::string>();
  json result = json::object();
  if (job["kind"] == "compare") {
    const json ref = *store_->row("projects", params["reference_project_id"].get<int64_t>());
    const json ref_model = *store_->row("models", ref["model_id"].get<int64_t>());
    result["compare"] = child("compare", {"compare", ref_model["file"].get<std::string>(), model["file"].get<std::string>(),
                                          "--dataset", dir, "--config", cfg, "--threads", std::to_string(params.value("threads", 1)),
                                          "--seconds", "2", "--layer-images", "8", "--json", "--report", log + ".report.json",
                                          "--html", log + ".report.html"});
    store_->query("UPDATE jobs SET result_json = ?1, stage = NULL, progress_json = NULL WHERE id = ?2",
                  {hide_paths(result, o_.data_dir + "/"), jid});
    return;
  }
  if (job["kind"] == "calibrate") {
    const json parent = *store_->row("models", model["parent_id"].get<int64_t>());
    std::vector<std::string> a = {"calibrate", parent["file"].get<std::string>(), "--dataset", dir, "--config", cfg,
                                  "--preset", params["preset"].get<std::string>(), "--method",
                                  params["method"].get<std::string>(), "--json", "-o", model["file"].get<std::string>(),
                                  "--report", log + ".report.json"};
    const int64_t calib_ds = params.value("calibration_dataset_id", ds["id"].get<int64_t>());
    if (calib_ds != ds["id"].get<int64_t>()) {
      auto c = store_->row("datasets", calib_ds);
      if (!c) throw Error("the calibration data set " + std::to_string(calib_ds) + " is gone");
      a.insert(a.end(), {"--calib-dataset", (*c)["dir"].get<std::string>()});
    }
    if (params["subset_percent"].get<int>() < 100) a.insert(a.end(), {"--subset", std::to_string(params["subset_percent"].get<int>()) + "%"});
    if (params["method"] == "accuracy-aware") {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", params["max_drop"].get<double>());
      a.insert(a.end(), {"--max-drop", buf});
    }
    result["calibration"] = child("calibrate", a);
    json info = child("info", {"info", model["file"].get<std::string>(), "--json"});
    info.erase("model");
    info["size_bytes"] = fs::file_size(model["file"].get<std::string>());
    store_->query("UPDATE models SET state = 'ready', info_json = ?1 WHERE id = ?2", {info, model["id"]});
    model = *store_->row("models", model["id"].get<int64_t>());
  }
  const int batch = params.value("batch", 1), threads = params.value("threads", 1);
  if (ds["info"].value("annotated", false))
    result["accuracy"] = child("evaluate", {"evaluate", model["file"].get<std::string>(), "--dataset", dir, "--config", cfg,
                                            "--batch", std::to_string(batch), "--threads", std::to_string(threads), "--json"});
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", params.value("seconds", 2.0));
  result["speed"] = child("bench", {"bench", model["file"].get<std::string>(), "--batch", std::to_string(batch), "--threads",
                                    std::to_string(threads), "--seconds", secs, "--json"});
  store_->query("UPDATE jobs SET result_json = ?1, stage = NULL, progress_json = NULL WHERE id = ?2",
                  {hide_paths(result, o_.data_dir + "/"), jid});
}

}  // namespace c8
