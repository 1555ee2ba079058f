// The malformed-input corpus (tests/corpus, written by make_corpus.py): every
// command that reads a model, an image, a data set or a preprocessing config
// is run over every bad one. Each run must end with exit 1 and one error line
// naming the file (and node) at fault, write nothing to stdout, create or
// change no file, and stay within a time and memory bound. `info` describes
// rather than refuses models that are valid ONNX but not runnable by calibr8
// (the case says what its report must hold).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_util.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kCorpus = std::string(C8_SOURCE_DIR) + "/tests/corpus";

#if defined(__SANITIZE_ADDRESS__)
constexpr long kMaxRssMb = 3072;  // ASan's shadow memory and quarantine
constexpr double kMaxSeconds = 60;
#else
constexpr long kMaxRssMb = 1024;
constexpr double kMaxSeconds = 20;
#endif

struct Case {
  std::string kind, path, why, info;
  std::vector<std::string> expect;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.path; }

std::vector<Case> load_cases() {
  std::vector<Case> out;
  nlohmann::json j = nlohmann::json::parse(slurp(kCorpus + "/cases.json"));
  for (const auto& c : j) {
    Case k;
    k.kind = c.at("kind");
    k.path = c.at("path");
    k.why = c.at("why");
    k.expect = c.at("expect").get<std::vector<std::string>>();
    if (c.contains("info")) k.info = c.at("info");
    out.push_back(k);
  }
  return out;
}

struct RunResult {
  int code = -1;
  bool timed_out = false;
  double seconds = 0;
  long max_rss_mb = 0;
  std::string out, err;
};

// fork + exec (no shell) in `cwd`, with a deadline; wait4 gives this child's own peak RSS.
RunResult run_calibr8(const std::vector<std::string>& args, const std::string& cwd, const std::string& scratch) {
  const std::string out = scratch + "/stdout", err = scratch + "/stderr";
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0 || chdir(cwd.c_str()) != 0) _exit(127);
    dup2(in, 0), dup2(o, 1), dup2(e, 2);
    std::vector<char*> argv{const_cast<char*>(C8_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(C8_BINARY, argv.data());
    _exit(127);
  }
  RunResult r;
  int st = 0;
  rusage ru{};
  for (;;) {
    pid_t w = wait4(pid, &st, WNOHANG, &ru);
    if (w == pid) break;
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (el > 3 * kMaxSeconds) {
      kill(pid, SIGKILL);
      wait4(pid, &st, 0, &ru);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  r.max_rss_mb = ru.ru_maxrss / 1024;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Every file under `dir`: size, mtime and content, to see any change.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> s;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const auto& e = *it;
    std::string key = e.path().string();
    if (e.is_symlink()) s[key] = "link";
    else if (e.is_regular_file())
      s[key] = std::to_string(e.last_write_time().time_since_epoch().count()) + ":" + slurp(key);
    else s[key] = "dir";
  }
  return s;
}

std::string error_lines(const std::string& err, int* n_errors, int* n_other) {
  *n_errors = *n_other = 0;
  std::string last;
  size_t p = 0;
  while (p < err.size()) {
    size_t e = err.find('\n', p);
    std::string line = err.substr(p, e == std::string::npos ? std::string::npos : e - p);
    if (line.rfind("calibr8: error: ", 0) == 0) ++*n_errors, last = line;
    else if (line.rfind("warning: ", 0) != 0) ++*n_other;
    p = e == std::string::npos ? err.size() : e + 1;
  }
  return last;
}

class Corpus : public testing::TestWithParam<Case> {};

TEST_P(Corpus, EveryCommandRefusesWithOneLineAndTouchesNothing) {
  const Case& c = GetParam();
  const std::string bad = kCorpus + "/" + c.path, valid = kCorpus + "/valid";
  const std::string work = temp_dir();  // cwd of the runs: must stay empty
  const std::string scratch = temp_dir();
  const std::string out = temp_dir();   // where -o / --report point: must stay empty
  fs::create_directories(work);
  std::vector<std::vector<std::string>> cmds;
  const std::vector<std::string> calib_out{"-o", out + "/q.onnx", "--report", out + "/r.json"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  std::string set_with_image;  // image cases: a labelled set holding a good image and the bad one
  if (c.kind == "model") {
    cmds = {{"run", bad, valid + "/img.pgm"},
            {"evaluate", bad, "--dataset", valid + "/set"},
            {"bench", bad, "--seconds", "0.05"},
            with({"calibrate", bad, "--calib-dataset", valid + "/set"}, calib_out),
            {"compare", bad, "default", "--dataset", valid + "/set", "--report", out + "/c.json"},
            {"compare", "default", bad, "--dataset", valid + "/set"}};
    if (c.info.empty()) cmds.insert(cmds.begin(), {{"info", bad}, {"info", bad, "--json"}});
  } else if (c.kind == "image") {
    set_with_image = temp_dir();
    const std::string name = fs::path(bad).filename().string();
    fs::copy_file(valid + "/img.pgm", set_with_image + "/good.pgm");
    fs::copy_file(bad, set_with_image + "/" + name);
    std::ofstream(set_with_image + "/labels.txt") << "good.pgm 0\n" << name << " 1\n";
    cmds = {{"run", "default", bad},
            {"run", "default", valid + "/img.pgm", bad},
            {"evaluate", "default", "--dataset", set_with_image},
            with({"calibrate", "default", "--calib-dataset", set_with_image}, calib_out)};
  } else if (c.kind == "dataset") {
    cmds = {{"evaluate", "default", "--dataset", bad},
            with({"calibrate", "default", "--calib-dataset", bad}, calib_out),
            {"compare", "default", "default", "--dataset", bad}};
  } else {
    ASSERT_EQ(c.kind, "config");
    cmds = {{"run", "default", valid + "/img.pgm", "--config", bad},
            {"evaluate", "default", "--dataset", valid + "/set", "--config", bad},
            with({"calibrate", "default", "--calib-dataset", valid + "/set", "--config", bad}, calib_out),
            {"compare", "default", "default", "--dataset", valid + "/set", "--config", bad}};
  }
  const auto before = snapshot(kCorpus);
  auto show = [](const std::vector<std::string>& a) {
    std::string s = "calibr8";
    for (const auto& x : a) s += " " + x;
    return s;
  };
  for (const auto& args : cmds) {
    RunResult r = run_calibr8(args, work, scratch);
    const std::string what = show(args) + "  [" + c.why + "]";
    EXPECT_FALSE(r.timed_out) << what;
    EXPECT_EQ(r.code, 1) << what << "\n" << r.err;
    int n_err = 0, n_other = 0;
    const std::string line = error_lines(r.err, &n_err, &n_other);
    EXPECT_EQ(n_err, 1) << what << ": one error line expected:\n" << r.err;
    EXPECT_EQ(n_other, 0) << what << ": stray lines on stderr:\n" << r.err;
    for (const auto& e : c.expect) EXPECT_NE(line.find(e), std::string::npos) << what << ": '" << e << "' not named in: " << line;
    EXPECT_EQ(r.out, "") << what << ": output before the failure";
    EXPECT_LT(r.seconds, kMaxSeconds) << what;
    EXPECT_LT(r.max_rss_mb, kMaxRssMb) << what;
  }
  if (!c.info.empty()) {  // info reports what other commands refuse
    RunResult r = run_calibr8({"info", bad}, work, scratch);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find(c.info), std::string::npos) << "info " << c.path << " should say '" << c.info << "':\n" << r.out;
    r = run_calibr8({"info", bad, "--json"}, work, scratch);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("calibratable"), false) << r.out;
  }
  EXPECT_TRUE(before == snapshot(kCorpus)) << "a command changed or created a file in the corpus";
  EXPECT_TRUE(fs::is_empty(out)) << "a refused command left a file in the output folder";
  EXPECT_TRUE(fs::is_empty(work)) << "a refused command left a file in its working folder";
  fs::remove_all(work), fs::remove_all(scratch), fs::remove_all(out);
  if (!set_with_image.empty()) fs::remove_all(set_with_image);
}

std::string case_name(const testing::TestParamInfo<Case>& i) {
  std::string n = i.param.path;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Malformed, Corpus, testing::ValuesIn(load_cases()), case_name);

// The corpus on disk is what make_corpus.py writes: nobody edits a case by
// hand and forgets the script (or the reverse).
TEST(CorpusFiles, MatchTheGeneratorScript) {
  const std::string tmp = temp_dir();
  fs::copy(kCorpus, tmp + "/corpus", fs::copy_options::recursive);
  const std::string cmd = "/usr/bin/python3 '" + tmp + "/corpus/make_corpus.py' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto strip = [](std::map<std::string, std::string> m, const std::string& root) {
    std::map<std::string, std::string> r;
    for (auto& [k, v] : m) {
      if (k.find("/fuzz/") != std::string::npos || k.find("__pycache__") != std::string::npos) continue;
      r[k.substr(root.size())] = v.substr(v.find(':') + 1);  // content, not mtime
    }
    return r;
  };
  EXPECT_TRUE(strip(snapshot(kCorpus), kCorpus) == strip(snapshot(tmp + "/corpus"), tmp + "/corpus"));
  fs::remove_all(tmp);
}

}  // namespace
