#pragma once
// The workbench's state: one SQLite database in WAL mode under the data dir.
// Rows come back as JSON objects (column -> value; *_json columns parsed), so
// the REST API hands them on as they are. Thread-safe (one connection, one
// mutex: the workbench's writes are few and small).
#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace c8 {

class Store {
 public:
  explicit Store(const std::string& db_path);  // creates the tables; throws c8::Error
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs one statement with positional parameters (?1, ?2, ...): strings,
  // numbers, null or JSON objects (stored as text). Returns the rows.
  std::vector<nlohmann::json> query(const std::string& sql, const std::vector<nlohmann::json>& params = {});
  // INSERT; returns the new row id.
  int64_t insert(const std::string& sql, const std::vector<nlohmann::json>& params = {});
  // One row by id from `table`, or nullopt.
  std::optional<nlohmann::json> row(const std::string& table, int64_t id);

 private:
  std::vector<nlohmann::json> run(const std::string& sql, const std::vector<nlohmann::json>& params, int64_t* rowid);
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace c8
