#include "server/store.h"

#include <memory>

#include "base/error.h"

namespace c8 {

namespace {

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS models (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, created TEXT NOT NULL,
  parent_id INTEGER REFERENCES models(id), state TEXT NOT NULL, info_json TEXT, preprocess_json TEXT);
CREATE TABLE IF NOT EXISTS datasets (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, dir TEXT NOT NULL, created TEXT NOT NULL, info_json TEXT);
CREATE TABLE IF NOT EXISTS projects (
  id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models(id),
  dataset_id INTEGER NOT NULL REFERENCES datasets(id), parent_id INTEGER REFERENCES projects(id),
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), kind TEXT NOT NULL,
  state TEXT NOT NULL, stage TEXT, message TEXT, params_json TEXT, result_json TEXT,
  created TEXT NOT NULL, started TEXT, finished TEXT, progress_json TEXT);
)SQL";

}  // namespace

Store::Store(const std::string& db_path) {
  if (sqlite3_open(db_path.c_str(), &db_) != SQLITE_OK) {
    std::string e = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(db_path + ": cannot open the workbench database: " + e);
  }
  sqlite3_busy_timeout(db_, 5000);
  char* err = nullptr;
  const std::string init = std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;") + kSchema;
  if (sqlite3_exec(db_, init.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(db_path + ": not a calibr8 workbench database: " + e);
  }
  // Columns added since the first version: an older database gets them in place.
  auto has_progress = [this] {
    for (const nlohmann::json& c : query("PRAGMA table_info(jobs)"))
      if (c["name"] == "progress_json") return true;
    return false;
  };
  if (!has_progress()) {
    try {
      query("ALTER TABLE jobs ADD COLUMN progress_json TEXT");
    } catch (const Error&) {
      if (!has_progress()) throw;  // another server added it first: fine
    }
  }
}

Store::~Store() {
  if (db_) sqlite3_close(db_);
}

std::vector<nlohmann::json> Store::run(const std::string& sql, const std::vector<nlohmann::json>& params,
                                       int64_t* rowid) {
  std::lock_guard<std::mutex> lk(mu_);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw Error(std::string("workbench database: ") + sqlite3_errmsg(db_));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(st, sqlite3_finalize);
  for (size_t i = 0; i < params.size(); ++i) {
    const nlohmann::json& p = params[i];
    const int k = int(i) + 1;
    if (p.is_null()) sqlite3_bind_null(st, k);
    else if (p.is_number_integer() || p.is_boolean()) sqlite3_bind_int64(st, k, p.is_boolean() ? int64_t(p.get<bool>()) : p.get<int64_t>());
    else if (p.is_number()) sqlite3_bind_double(st, k, p.get<double>());
    else if (p.is_string()) sqlite3_bind_text(st, k, p.get_ref<const std::string&>().c_str(), -1, SQLITE_TRANSIENT);
    else sqlite3_bind_text(st, k, p.dump().c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<nlohmann::json> rows;
  for (;;) {
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) break;
    if (r != SQLITE_ROW) throw Error(std::string("workbench database: ") + sqlite3_errmsg(db_));
    nlohmann::json row = nlohmann::json::object();
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      std::string name = sqlite3_column_name(st, c);
      const std::string suffix = "_json";
      const bool is_json = name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (is_json) name.resize(name.size() - suffix.size());
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER: row[name] = int64_t(sqlite3_column_int64(st, c)); break;
        case SQLITE_FLOAT: row[name] = sqlite3_column_double(st, c); break;
        case SQLITE_NULL: row[name] = nullptr; break;
        default: {
          std::string text(reinterpret_cast<const char*>(sqlite3_column_text(st, c)), size_t(sqlite3_column_bytes(st, c)));
          row[name] = is_json ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json(text);
        }
      }
    }
    rows.push_back(std::move(row));
  }
  if (rowid) *rowid = sqlite3_last_insert_rowid(db_);
  return rows;
}

std::vector<nlohmann::json> Store::query(const std::string& sql, const std::vector<nlohmann::json>& params) {
  return run(sql, params, nullptr);
}

int64_t Store::insert(const std::string& sql, const std::vector<nlohmann::json>& params) {
  int64_t id = 0;
  run(sql, params, &id);
  return id;
}

std::optional<nlohmann::json> Store::row(const std::string& table, int64_t id) {
  auto rows = query("SELECT * FROM " + table + " WHERE id = ?1", {id});
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

}  // namespace c8
