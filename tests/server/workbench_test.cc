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
#include "eval/image.h"
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

// Model 1 (mobilenet with its preprocessing), data set 1 (the first n shared
// ImageNet images) and project 1 on a fresh server.
void import_project(httplib::Client& c, const std::string& model, const std::string& dir, int n) {
  ASSERT_EQ(c.Post("/api/models?name=m.onnx", read_file(model), kOctet)->status, 201);
  ASSERT_EQ(c.Put("/api/models/1/preprocess", R"({"size":"224x224","mean":"127.5","std":"127.5","label_offset":1})",
                  "application/json")->status, 200);
  ASSERT_EQ(c.Post("/api/datasets?name=d.tar.gz", imagenet_archive(dir, n), kOctet)->status, 201);
  ASSERT_EQ(c.Post("/api/projects", R"({"model_id":1,"dataset_id":1})", "application/json")->status, 201);
}

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
  for (const char* bad : {R"({"batch":"x"})", R"({"batch":4294967297})", R"({"threads":null})", R"({"threads":1.5})",
                          R"({"seconds":0})", R"({"seconds":"2"})", R"({"seconds":601})"})
    EXPECT_EQ(c.Post("/api/projects/1/baseline", bad, "application/json")->status, 400) << bad;
  for (const char* bad : {R"({"method":1})", R"({"max_drop":"1"})", R"({"subset_percent":[1]})", R"({"preset":"fast"})"})
    EXPECT_EQ(c.Post("/api/projects/1/calibrate", bad, "application/json")->status, 400) << bad;
  r = c.Post("/api/projects/1/baseline", R"({"batch":1,"threads":1,"seconds":0.5})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  json job = wait_job(c, body(r)["id"].get<int64_t>());
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["params"]["seconds"], 0.5);
  {  // the benchmark ran for about half a second, not the default 2 s
    const json& sp = job["result"]["speed"];
    EXPECT_LT(sp["runs"].get<double>() / sp["throughput_ips"].get<double>(), 1.5) << sp.dump();  // batch 1: seconds measured
  }
  // The same figure the CLI gives on the same images.
  const std::string pre = " --size 224x224 --mean 127.5 --std 127.5 --label-offset 1";
  const c8test::CmdResult e = c8test::calibr8("evaluate '" + model + "' --dataset '" + dir + "/ds' --json" + pre);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(job["result"]["accuracy"]["top1"], json::parse(e.out)["top1"]);
  EXPECT_GT(job["result"]["speed"]["median_ms"].get<double>(), 0) << job["result"]["speed"].dump();

  // Thumbnails: the first images, JPEG, longer side <= 96; none past the count.
  json ds1 = body(c.Get("/api/datasets"))[0];
  EXPECT_EQ(ds1["thumbnails"], 8);
  r = c.Get("/api/datasets/1/thumbnails/0");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  Image thumb = decode_image(reinterpret_cast<const uint8_t*>(r->body.data()), r->body.size(), "thumbnail");
  EXPECT_EQ(std::max(thumb.width, thumb.height), 96);
  EXPECT_EQ(c.Get("/api/datasets/1/thumbnails/8")->status, 404);
  EXPECT_EQ(c.Get("/api/datasets/9/thumbnails/0")->status, 404);

  // A separate calibration set: bad ids refused; the same set is warned about.
  r = c.Post("/api/datasets?name=calib4.tar.gz", imagenet_archive(dir + "/c", 4), kOctet);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(c.Post("/api/projects/1/calibrate", R"({"calibration_dataset_id":"2"})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/api/projects/1/calibrate", R"({"calibration_dataset_id":7})", "application/json")->status, 404);
  EXPECT_EQ(body(c.Get("/api/projects")).size(), 1u);  // a refusal creates nothing

  // Calibrate: a new model and project at once, filled in by the job.
  r = c.Post("/api/projects/1/calibrate", R"({"method":"default","preset":"performance"})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  json cal = body(r);
  ASSERT_EQ(cal["warnings"].size(), 1u) << r->body;
  EXPECT_NE(cal["warnings"][0].get<std::string>().find("validation data set"), std::string::npos);
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
  // The calibration report, and no server path in what the API hands out.
  r = c.Get(("/api/jobs/" + cal["job"]["id"].dump() + "/report.json").c_str());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(json::parse(r->body).contains("settings"));
  EXPECT_EQ(r->body.find(dir + "/data"), std::string::npos) << "the report names the server's data dir";
  EXPECT_EQ(job.dump().find(dir + "/data"), std::string::npos) << job.dump();

  // Calibrating on the separate set: no warning, its 4 images used.
  r = c.Post("/api/projects/1/calibrate", R"({"calibration_dataset_id":2})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_TRUE(body(r)["warnings"].empty()) << r->body;
  job = wait_job(c, body(r)["job"]["id"].get<int64_t>());
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["result"]["calibration"]["images"], 4);

  // Compare the first INT8 project with its parent: accuracy of both, speed, the per-layer table.
  const std::string p2 = cal["project"]["id"].dump();
  EXPECT_EQ(c.Post(("/api/projects/" + p2 + "/compare").c_str(), "{}", "application/json")->status, 400);
  EXPECT_EQ(c.Post(("/api/projects/" + p2 + "/compare").c_str(), R"({"reference_project_id":99})", "application/json")->status, 404);
  r = c.Post(("/api/projects/" + p2 + "/compare").c_str(), R"({"reference_project_id":1})", "application/json");
  ASSERT_EQ(r->status, 201) << r->body;
  json cj = wait_job(c, body(r)["id"].get<int64_t>());
  ASSERT_EQ(cj["state"], "done") << cj.dump();
  const json& cmp = cj["result"]["compare"];
  EXPECT_EQ(cmp["accuracy"]["a"], json::parse(e.out)["top1"]);  // the reference's figure, as evaluate gives it
  EXPECT_GT(cmp["layers"]["rows"].size(), 20u);
  bool u8 = false;
  for (const json& row : cmp["layers"]["rows"]) u8 |= row["precision"] == "U8";
  EXPECT_TRUE(u8) << cmp["layers"].dump();
  r = c.Get(("/api/jobs/" + cj["id"].dump() + "/report.html").c_str());
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<html"), std::string::npos);
  EXPECT_EQ(r->body.find(dir + "/data"), std::string::npos) << "the HTML report names the server's data dir";
  EXPECT_EQ(c.Get(("/api/jobs/" + cj["id"].dump() + "/report.txt").c_str())->status, 404);
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
    import_project(c, model, dir, 2);
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

// Jobs posted at once, from several clients, run one at a time (never two
// `running` in any snapshot) and each finishes with the result it would have alone.
TEST(Workbench, ConcurrentJobsRunOneAtATime) {
  const std::string model = c8test::shared("models/mobilenet_v1_0.25_224.onnx");
  if (!fs::exists(model)) GTEST_SKIP() << model << " not present";
  const std::string dir = c8test::temp_dir();
  Server s(dir + "/data");
  httplib::Client c = s.client();
  import_project(c, model, dir, 4);
  std::vector<int64_t> ids(4, 0);
  std::vector<std::thread> posters;
  for (int k = 0; k < 4; ++k)
    posters.emplace_back([&, k] {
      httplib::Client ck = s.client();
      auto r = k == 2 ? ck.Post("/api/projects/1/calibrate", "{}", "application/json")
                      : ck.Post("/api/projects/1/baseline", R"({"threads":1})", "application/json");
      if (r && r->status == 201) {
        json b = json::parse(r->body);
        ids[size_t(k)] = (k == 2 ? b["job"]["id"] : b["id"]).get<int64_t>();
      }
    });
  for (auto& t : posters) t.join();
  for (int64_t id : ids) ASSERT_GT(id, 0);
  int most_running = 0, snapshots = 0;
  for (bool all_done = false; !all_done && snapshots < 6000; ++snapshots) {
    int running = 0;
    all_done = true;
    for (const json& p : body(c.Get("/api/projects")))
      for (const json& j : p["jobs"]) {
        running += j["state"] == "running";
        all_done &= j["state"] == "done" || j["state"] == "failed" || j["state"] == "cancelled";
      }
    most_running = std::max(most_running, running);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(most_running, 1) << "over " << snapshots << " snapshots";
  std::vector<double> top1;
  for (int64_t id : ids) {
    json j = wait_job(c, id);
    ASSERT_EQ(j["state"], "done") << j.dump();
    if (j["kind"] == "baseline") top1.push_back(j["result"]["accuracy"]["top1"].get<double>());
  }
  ASSERT_EQ(top1.size(), 3u);
  EXPECT_EQ(top1[0], top1[1]);
  EXPECT_EQ(top1[1], top1[2]);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace c8
