// Never crash, never clobber: outputs are checked against every input (by
// file identity, however spelled) and each other before any work; a
// read-only file is not replaced; an output folder that cannot take the file
// fails before calibration, not after; names that are not UTF-8 still give
// valid JSON; a zero stride is one line, not a SIGFPE; an interrupted save
// leaves no temp file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <onnx/onnx_pb.h>

#include "cli/cli_util.h"
#include "ir/onnx_export.h"
#include "base/atomic_file.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000";
const std::string kModel = std::string(C8_SHARED_DIR) + "/models/resnet8_cifar10_mlperftiny.onnx";
const std::string kFlags = " --dataset '" + kData + "' --calib-range 0:8 --size 32x32 --mean 0 --std 1 --no-bias-correction ";

struct Dir {
  std::string path = temp_dir();
  ~Dir() { fs::remove_all(path); }
  std::string sub(const std::string& n) const { return path + "/" + n; }
};

// A private copy of the model, so that a clobber could only hit the copy.
std::string copy_model(const Dir& d) {
  fs::create_directories(d.sub("x"));
  fs::copy_file(kModel, d.sub("x/in.onnx"));
  return d.sub("x/in.onnx");
}

void expect_refused(const CmdResult& r, const std::string& what) {
  EXPECT_EQ(r.code, 1) << what << ": " << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << what << ": one line expected:\n" << r.err;
}

TEST(NeverClobber, OutputOntoTheInputModelIsRefusedHoweverSpelled) {
  Dir d;
  std::string in = copy_model(d);
  const std::string before = slurp(in);
  fs::create_directories(d.sub("y"));
  fs::create_symlink(in, d.sub("link.onnx"));
  fs::create_hard_link(in, d.sub("hard.onnx"));
  for (const std::string& out : {in, d.sub("y/../x/in.onnx"), d.sub("./x/./in.onnx"), d.sub("link.onnx"), d.sub("hard.onnx")}) {
    CmdResult r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + out + "'");
    expect_refused(r, "-o " + out);
    EXPECT_NE(r.err.find("same file"), std::string::npos) << r.err;
    r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + d.sub("ok.onnx") + "' --report '" + out + "'");
    expect_refused(r, "--report " + out);
    EXPECT_FALSE(fs::exists(d.sub("ok.onnx"))) << "the model was written before the report was refused";
  }
  EXPECT_EQ(slurp(in), before) << "the input model changed";
  // compare A B --report B
  CmdResult r = calibr8("compare '" + in + "' '" + d.sub("hard.onnx") + "' --dataset '" + kData +
                        "' --limit 4 --size 32x32 --mean 0 --std 1 --report '" + d.sub("hard.onnx") + "'");
  expect_refused(r, "compare --report B");
  EXPECT_EQ(slurp(in), before);
}

TEST(NeverClobber, TwoOutputsOnOneFileAndReadOnlyFilesAreRefused) {
  Dir d;
  std::string in = copy_model(d);
  CmdResult r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + d.sub("o.onnx") + "' --report '" + d.sub("o.onnx") + "'");
  expect_refused(r, "--report = -o");
  EXPECT_FALSE(fs::exists(d.sub("o.onnx")));
  {
    std::ofstream f(d.sub("ro.onnx"));
    f << "keep me";
  }
  ::chmod(d.sub("ro.onnx").c_str(), 0444);
  r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + d.sub("ro.onnx") + "'");
  expect_refused(r, "0444 output");
  EXPECT_EQ(slurp(d.sub("ro.onnx")), "keep me");
}

TEST(NeverClobber, MissingOutputFolderFailsBeforeAnyWork) {
  Dir d;
  std::string in = copy_model(d);
  auto t0 = std::chrono::steady_clock::now();
  // 300 images would take seconds of calibration: the refusal must come first.
  CmdResult r = calibr8("calibrate '" + in + "' --dataset '" + kData + "' --calib-range 0:300 --size 32x32 -o '" +
                        d.sub("nope/o.onnx") + "'");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expect_refused(r, "missing folder");
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("statistics"), std::string::npos) << "calibration ran before the check:\n" << r.err;
  EXPECT_LT(s, 5.0);
  r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + d.sub("o.onnx") + "' --report '" + d.sub("nope/r.json") + "'");
  expect_refused(r, "missing report folder");
  EXPECT_FALSE(fs::exists(d.sub("o.onnx"))) << "model written though its report cannot be";
  for (auto& e : fs::directory_iterator(d.path)) EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(NeverClobber, NonUtf8NamesGiveValidJson) {
  Dir d;
  std::string in = copy_model(d);
  const std::string odd = d.sub("r\xff\xfe.json");
  CmdResult r = calibr8("calibrate '" + in + "'" + kFlags + "-o '" + d.sub("o\xff.onnx") + "' --report '" + odd + "' --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NO_THROW(nlohmann::json::parse(r.out)) << r.out;
  EXPECT_NO_THROW(nlohmann::json::parse(slurp(odd)));
  for (auto& e : fs::directory_iterator(d.path)) EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(NeverCrash, ZeroStrideIsOneLineNotSigfpe) {
  Dir d;
  for (const char* op : {"Conv", "MaxPool", "AveragePool"}) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("g");
    auto io = [](onnx::ValueInfoProto* vi, const char* name, std::vector<int64_t> dims) {
      vi->set_name(name);
      auto* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto::FLOAT);
      for (int64_t v : dims) tt->mutable_shape()->add_dim()->set_dim_value(v);
    };
    io(g->add_input(), "x", {1, 1, 8, 8});
    io(g->add_output(), "y", {});
    g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
    auto* n = g->add_node();
    n->set_name("bad_node");
    n->set_op_type(op);
    n->add_input("x");
    if (std::string(op) == "Conv") {
      auto* w = g->add_initializer();
      w->set_name("w");
      w->set_data_type(onnx::TensorProto::FLOAT);
      for (int64_t v : {1, 1, 3, 3}) w->add_dims(v);
      for (int i = 0; i < 9; ++i) w->add_float_data(0.1f);
      n->add_input("w");
    }
    n->add_output("y");
    auto* ks = n->add_attribute();
    ks->set_name("kernel_shape");
    ks->set_type(onnx::AttributeProto::INTS);
    ks->add_ints(3);
    ks->add_ints(3);
    auto* st = n->add_attribute();
    st->set_name("strides");
    st->set_type(onnx::AttributeProto::INTS);
    st->add_ints(0);
    st->add_ints(0);
    std::string path = d.sub(std::string("stride0_") + op + ".onnx");
    {
      std::ofstream f(path, std::ios::binary);
      f << m.SerializeAsString();
    }
    CmdResult r = calibr8("info '" + path + "'");
    expect_refused(r, std::string("info on a zero-stride ") + op);
    EXPECT_NE(r.err.find("bad_node"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("strides"), std::string::npos) << r.err;
  }
}

// SIGTERM in the middle of a write: the handler removes the registered temp
// file and the process still dies by SIGTERM.
TEST(NeverClobber, SignalDuringSaveLeavesNoTempFile) {
  Dir d;
  const std::string tmp = d.sub("out.onnx.tmp.123");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    c8::install_temp_file_cleanup();
    std::ofstream(tmp) << "partial";
    c8::TempFileGuard guard(tmp);
    raise(SIGTERM);
    _exit(0);  // not reached
  }
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << "status " << st;
  EXPECT_FALSE(fs::exists(tmp)) << "temp file left behind";
}

}  // namespace
