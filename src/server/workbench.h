#pragma once
// calibr8 serve: the web workbench's back end (DL Workbench's flow). Models
// and data sets are uploaded, stored under the data dir with generated names
// and validated (a model by `calibr8 info` in a child process); a project is
// a model + a data set; jobs (baseline = evaluate + bench, calibrate) run
// calibr8's own commands in child processes, one at a time, persisted in
// SQLite: after a restart, queued jobs run and the ones that were running are
// marked failed with the reason. Every route answers JSON; errors are
// {"error": "..."} with a 4xx / 5xx status. API reference: docs/workbench-api.md.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "server/store.h"

namespace httplib {
class Server;
}

namespace c8 {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port (tests)
  std::string data_dir;           // created if missing
  std::string token;              // required (Authorization: Bearer ...) when set; serve sets it off loopback
  std::string exe;                // the calibr8 binary the jobs run
  size_t max_upload_bytes = size_t(2) << 30;
  double job_timeout_seconds = 6 * 3600;
};

class Workbench {
 public:
  explicit Workbench(ServeOptions o);  // opens the store, recovers jobs; throws c8::Error
  ~Workbench();
  // Binds host:port; returns the bound port. Throws c8::Error on failure.
  int bind();
  void run();   // serves until stop()
  void stop();

 private:
  void routes();
  void worker();
  void run_job(const nlohmann::json& job);
  nlohmann::json model_view(const nlohmann::json& m);
  ServeOptions o_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<httplib::Server> http_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> cancel_current_{false};
  int64_t current_job_ = 0;
  std::atomic<int> streams_{0};
};

}  // namespace c8
