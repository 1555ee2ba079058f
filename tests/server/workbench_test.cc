// The workbench back end (calibr8 serve) driven through its REST API, as the
// web front end and scripts drive it: uploads validated, jobs in child
// processes with results equal to the CLI's, calibration greyed out where DL
// Workbench greys it out, state that survives a restart, a token off loopback.
#include "server/workbench.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../cli/cli_util.h"
#include "server/store.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A Workbench on a free loopback port, served from a thread.
struct Server {
  std::unique_ptr<Workbench> wb;
  std::thread th;
  int port = 0;
  explicit Server(const std::string& data_dir, const std::string& token = "") {
    ServeOptions o;
    o.port = 0;
    o.data_dir = data_dir;
    o.token = token;
    o.exe = C8_BINARY;
    wb = std::make_unique<Workbench>(o);
    port = wb->bind();
    th = std::thread([this] { wb->run(); });
  }
  ~Server() {
    wb->stop();
    th.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(300, 0);
    return c;
  }
};

json body(const httplib::Result& r) {
  EXPECT_TRUE(r) << "no response";
  if (!r) return json();
  return json::parse(r->body, nullptr, false);
}

// Waits for a job to end (states done / failed / cancelled).
json wait_job(httplib::Client& c, int64_t id) {
  for (int i = 0; i < 1200; ++i) {
    json j = body(c.Get(("/api/jobs/" + std::to_string(id)).c_str()));
    const std::string s = j.value("state", "");
    if (s == "done" || s == "failed" || s == "cancelled") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "job " << id << " did not end";
  return json();
}

// The first n images of the shared ImageNet sample as a tar.gz with labels.txt.
std::string imagenet_archive(const std::string& dir, int n) {
  const std::string src = c8test::shared("data/imagenet-sample-500");
  fs::create_directories(dir + "/ds/images");
  std::ifstream in(src + "/labels.txt");
  std::ofstream out(dir + "/ds/labels.txt");
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) {
    out << line << "\n";
    const std::string rel = line.substr(0, line.find(' '));
    fs::create_directories(fs::path(dir + "/ds/" + rel).parent_path());
    fs::copy_file(src + "/" + rel, dir + "/ds/" + rel);
  }
  out.close();
  fs::copy_file(src + "/classes.txt", dir + "/ds/classes.txt");
  EXPECT_EQ(std::system(("tar czf '" + dir + "/ds.tar.gz' -C '" + dir + "/ds' .").c_str()), 0);
  return read_file(dir + "/ds.tar.gz");
}

const char* kOctet = "application/octet-stream";

TEST(Workbench, ImportBaselineCalibrateCompare) {
  const std::string model = c8test::shared("models/mobilenet_v1_0.25_224.onnx");
  if (!fs::exists(model)) GTEST_SKIP() << model << " not present";
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data");
  httplib::Client c = s.client();

  // A broken model: one line naming the upload, nothing stored.
  auto r = c.Post("/api/models?name=broken.onnx", std::string("not a model"), kOctet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(body(r)["error"].get<std::string>().find("broken.onnx"), std::string::npos) << r->body;
  EXPECT_EQ(body(c.Get("/api/models")).size(), 0u);
  EXPECT_TRUE(fs::is_empty(dir + "/data/models"));

  r = c.Post("/api/models?name=../../mobilenet.onnx", read_file(model), kOctet);
  ASSERT_EQ(r->status, 201) << r->body;
  json m = body(r);
  EXPECT_EQ(m["name"], "mobilenet.onnx");  // no path survives in a name
  EXPECT_EQ(m["info"]["weight_precision"], "FP32");
  EXPECT_TRUE(m["can_calibrate"].get<bool>());
  EXPECT_FALSE(m.contains("file"));
  r = c.Put("/api/models/1/preprocess", R"({"size":"224x224","mean":"127.5","std":"127.5","label_offset":1})", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(c.Put("/api/models/1/preprocess", R"({"output":"x"})", "application/json")->status, 400);

  r = c.Post("/api/datasets?name=imagenet8.tar.gz", imagenet_archive(dir, 8), kOctet);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(body(r)["info"]["images"], 8);
  EXPECT_EQ(body(r)["info"]["annotated"], true);

  r = c.Post("/api/projects", R"({"model_id":1,"dataset_id":1})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  for (const char* bad : {R"({"batch":"x"})", R"({"batch":4294967297})", R"({"threads":null})", R"({"threads":1.5})"})
    EXPECT_EQ(c.Post("/api/projects/1/baseline", bad, "application/json")->status, 400) << bad;
  for (const char* bad : {R"({"method":1})", R"({"max_drop":"1"})", R"({"subset_percent":[1]})", R"({"preset":"fast"})"})
    EXPECT_EQ(c.Post("/api/projects/1/calibrate", bad, "application/json")->status, 400) << bad;
  r = c.Post("/api/projects/1/baseline", R"({"batch":1,"threads":1})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  json job = wait_job(c, body(r)["id"].get<int64_t>());
  ASSERT_EQ(job["state"], "done") << job.dump();
  // The same figure the CLI gives on the same images.
  const std::string pre = " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1";
  const c8test::CmdResult e = c8test::calibr8("evaluate '" + model + "' --dataset '" + dir + "/ds' --json" + pre);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(job["result"]["accuracy"]["top1"], json::parse(e.out)["top1"]);
  EXPECT_GT(job["result"]["speed"]["median_ms"].get<double>(), 0) << job["result"]["speed"].dump();

  // Calibrate: a new model and project at once, filled in by the job.
  r = c.Post("/api/projects/1/calibrate", R"({"method":"default","preset":"performance"})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  json cal = body(r);
  EXPECT_EQ(cal["project"]["parent_id"], 1);
  const int64_t mid = cal["project"]["model_id"].get<int64_t>();
  job = wait_job(c, cal["job"]["id"].get<int64_t>());
  ASSERT_EQ(job["state"], "done") << job.dump();
  json m2 = body(c.Get(("/api/models/" + std::to_string(mid)).c_str()));
  EXPECT_EQ(m2["state"], "ready");
  EXPECT_EQ(m2["parent_id"], 1);
  EXPECT_EQ(m2["info"]["weight_precision"], "INT8-QDQ");
  EXPECT_TRUE(job["result"]["accuracy"].contains("top1"));
  // Only an original model is calibrated (DL Workbench greys the option out).
  EXPECT_FALSE(m2["can_calibrate"].get<bool>());
  EXPECT_NE(m2["calibrate_disabled_reason"].get<std::string>().find("calibration result"), std::string::npos);
  r = c.Post(("/api/projects/" + cal["project"]["id"].dump() + "/calibrate").c_str(), "{}", "application/json");
  EXPECT_EQ(r->status, 409) << r->body;
  // The downloaded INT8 model is a file the CLI loads.
  r = c.Get(("/api/models/" + std::to_string(mid) + "/file").c_str());
  ASSERT_EQ(r->status, 200);
  std::ofstream(dir + "/dl.onnx", std::ios::binary) << r->body;
  EXPECT_EQ(c8test::calibr8("info '" + dir + "/dl.onnx'").code, 0);
  fs::remove_all(dir);
}

TEST(Workbench, RefusalsAreJsonWithAMessage) {
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data");
  httplib::Client c = s.client();
  struct Case {
    httplib::Result r;
    int status;
  };
  Case cases[] = {
      {c.Get("/api/nothing"), 404},
      {c.Get("/api/models/7"), 404},
      {c.Post("/api/projects", "[1,2]", "application/json"), 400},
      {c.Post("/api/projects", R"({"model_id":5,"dataset_id":1})", "application/json"), 404},
      {c.Post("/api/datasets?name=x.zip", std::string("PK\x03\x04junk"), kOctet), 400},
      {c.Post("/api/models?name=m.onnx", std::string(20000, 'x'), "application/x-www-form-urlencoded"), 413},
  };
  for (auto& k : cases) {
    ASSERT_TRUE(k.r);
    EXPECT_EQ(k.r->status, k.status) << k.r->body;
    json j = json::parse(k.r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << k.r->body;
    EXPECT_FALSE(j.value("error", "").empty()) << k.r->body;
  }
  EXPECT_TRUE(fs::is_empty(dir + "/data/datasets"));
  fs::remove_all(dir);
}

// Findings of a hostile-input audit: each answered with a JSON refusal, and
// the server still serves afterwards.
TEST(Workbench, HostileRequestsAreRefused) {
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data");
  httplib::Client c = s.client();
  // Another site (CSRF) or a DNS-rebinding page.
  EXPECT_EQ(c.Get("/api/health", {{"Origin", "http://attacker.example"}})->status, 403);
  EXPECT_EQ(c.Get("/api/health", {{"Host", "attacker.example:80"}})->status, 403);
  EXPECT_EQ(c.Get("/api/health", {{"Origin", "http://localhost:1"}})->status, 200);
  // Ids and fields of the wrong size or type.
  EXPECT_EQ(c.Get("/api/models/99999999999999999999")->status, 404);
  EXPECT_EQ(c.Post("/api/projects/1/baseline", R"({"batch":"x"})", "application/json")->status, 404);  // no project 1
  // A data set whose labels.txt names a file outside it.
  fs::create_directories(dir + "/ds");
  std::ofstream(dir + "/ds/labels.txt") << "/etc/passwd 1\n";
  ASSERT_EQ(std::system(("tar czf '" + dir + "/out.tar.gz' -C '" + dir + "/ds' .").c_str()), 0);
  auto r = c.Post("/api/datasets?name=out.tar.gz", read_file(dir + "/out.tar.gz"), kOctet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(body(r)["error"].get<std::string>().find("points outside"), std::string::npos) << r->body;
  EXPECT_TRUE(fs::is_empty(dir + "/data/datasets"));
  EXPECT_EQ(c.Get("/api/health")->status, 200);
  fs::remove_all(dir);
}

// The front end is one page compiled into the binary: served at /, with a
// content security policy, and referring to nothing outside the server (no
// CDN, nothing fetched at run time).
TEST(Workbench, ServesItsEmbeddedFrontEnd) {
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data");
  httplib::Client c = s.client();
  auto r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(r->body.find("<title>calibr8 workbench</title>"), std::string::npos);
  for (const char* ext : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import"})
    EXPECT_EQ(r->body.find(ext), std::string::npos) << ext;
  // Every API path the page calls exists (a 404 would mean the page and the server drifted apart).
  for (const char* path : {"/api/models", "/api/datasets", "/api/projects"}) {
    EXPECT_NE(r->body.find(path), std::string::npos) << path;
    EXPECT_EQ(c.Get(path)->status, 200) << path;
  }
  fs::remove_all(dir);
}

TEST(Workbench, TokenRequiredWhenSet) {
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data", "s3cret");
  httplib::Client c = s.client();
  EXPECT_EQ(c.Get("/api/health")->status, 401);
  EXPECT_EQ(c.Get("/api/health", {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(c.Get("/api/health", {{"Authorization", "Bearer s3cret"}})->status, 200);
  fs::remove_all(dir);
}

// After a restart, a job that was running is failed with the reason and a
// queued one runs; a queued job can be cancelled.
TEST(Workbench, JobsSurviveARestart) {
  const std::string model = c8test::shared("models/mobilenet_v1_0.25_224.onnx");
  if (!fs::exists(model)) GTEST_SKIP() << model << " not present";
  const std::string dir = c8test::temp_dir();
  {
    Server s(dir + "/data");
    httplib::Client c = s.client();
    ASSERT_EQ(c.Post("/api/models?name=m.onnx", read_file(model), kOctet)->status, 201);
    ASSERT_EQ(c.Post("/api/datasets?name=d.tar.gz", imagenet_archive(dir, 2), kOctet)->status, 201);
    ASSERT_EQ(c.Post("/api/projects", R"({"model_id":1,"dataset_id":1})", "application/json")->status, 201);
  }
  {
    // As a killed server leaves it: one job running, two queued.
    Store st(dir + "/data/workbench.db");
    for (const char* state : {"running", "queued", "queued"})
      st.insert("INSERT INTO jobs (project_id, kind, state, params_json, created) VALUES (1, 'baseline', ?1, '{}', 'x')",
                {state});
  }
  Server s(dir + "/data");
  httplib::Client c = s.client();
  // Job 3 is cancelled before it can run (the worker takes job 2 first, or
  // both run: cancelling a finished job changes nothing).
  json j3 = body(c.Post("/api/jobs/3/cancel"));
  json j1 = body(c.Get("/api/jobs/1"));
  EXPECT_EQ(j1["state"], "failed");
  EXPECT_NE(j1["message"].get<std::string>().find("interrupted"), std::string::npos);
  json j2 = wait_job(c, 2);
  EXPECT_EQ(j2["state"], "done") << j2.dump();
  json j3end = wait_job(c, 3);
  EXPECT_TRUE(j3end["state"] == "cancelled" || j3end["state"] == "done") << j3end.dump();
  // The event stream replays the job and ends with its final state.
  auto ev = c.Get("/api/jobs/2/events");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->get_header_value("Content-Type"), "text/event-stream");
  const std::string& text = ev->body;
  ASSERT_NE(text.rfind("data: "), std::string::npos) << text;
  EXPECT_EQ(json::parse(text.substr(text.rfind("data: ") + 6))["state"], "done");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace c8
