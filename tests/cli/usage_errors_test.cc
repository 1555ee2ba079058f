// Command-line mistakes and mismatched side files: one error line each, exit
// 2 for a wrong command line (1 for bad inputs), nothing written, and an
// output never lands on a file the model's weights come from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <onnx/onnx_pb.h>

#include "cli/cli_util.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kValid = std::string(C8_SOURCE_DIR) + "/tests/corpus/valid";

void expect_one_line(const CmdResult& r, int code, const std::string& must_hold, const std::string& what) {
  EXPECT_EQ(r.code, code) << what << ": " << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << what << ": one line expected:\n" << r.err;
  EXPECT_EQ(r.err.rfind("calibr8: error: ", 0), 0u) << what << ": " << r.err;
  EXPECT_NE(r.err.find(must_hold), std::string::npos) << what << ": '" << must_hold << "' missing in: " << r.err;
  EXPECT_EQ(r.out, "") << what;
}

TEST(UsageErrors, ParseErrorsAreOneLineWithExitTwo) {
  expect_one_line(calibr8("run"), 2, "run --help", "missing model");
  expect_one_line(calibr8("bogus"), 2, "--help", "unknown command");
  expect_one_line(calibr8("run default x.png --top 0"), 2, "--top", "out of range");
  // --seed -1 used to wrap silently to 2^64-1.
  expect_one_line(calibr8("calibrate default --seed -1 -o /tmp/never.onnx"), 2, "--seed", "negative seed");
  CmdResult help = calibr8("run --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--classes"), std::string::npos);
}

TEST(UsageErrors, EmptyOutputPathFailsBeforeAnyWork) {
  CmdResult r = calibr8("calibrate default --subset 10 -o ''");
  expect_one_line(r, 1, "-o: the output path is empty", "-o ''");
}

TEST(UsageErrors, ClassNamesFileMustFitTheModel) {
  std::string dir = temp_dir();
  std::ofstream(dir + "/three.txt") << "a\nb\nc\n";
  CmdResult r = calibr8("run default '" + kValid + "/img.pgm' --classes '" + dir + "/three.txt'");
  expect_one_line(r, 1, "three.txt: lists 3 class names, but the model scores 10 classes", "--classes");
  fs::remove_all(dir);
}

TEST(UsageErrors, LabelOffsetOutsideAnyModelIsRefused) {
  // 2000000000 printed class indices near INT_MIN before.
  CmdResult r = calibr8("run default '" + kValid + "/img.pgm' --label-offset 2000000000");
  expect_one_line(r, 1, "label_offset must be between", "--label-offset");
}

// A model whose weights sit in an external file: -o / --report onto that file
// would destroy the input model.
TEST(UsageErrors, OutputOntoTheModelsExternalDataIsRefused) {
  std::string dir = temp_dir();
  onnx::ModelProto m;
  {
    std::ifstream f(kValid + "/net.onnx", std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&f));
  }
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  const std::string bytes = w->raw_data();
  ASSERT_FALSE(bytes.empty());
  std::ofstream(dir + "/weights.bin", std::ios::binary) << bytes;
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  std::ofstream(dir + "/net.onnx", std::ios::binary) << m.SerializeAsString();
  ASSERT_EQ(calibr8("info '" + dir + "/net.onnx'").code, 0);
  for (const std::string& flags : {"-o '" + dir + "/weights.bin'", "-o '" + dir + "/q.onnx' --report '" + dir + "/./weights.bin'"}) {
    CmdResult r = calibr8("calibrate '" + dir + "/net.onnx' --calib-dataset '" + kValid + "/set' " + flags);
    expect_one_line(r, 1, "same file as the external data", flags);
    EXPECT_EQ(slurp(dir + "/weights.bin"), bytes) << flags;
    EXPECT_FALSE(fs::exists(dir + "/q.onnx")) << flags;
  }
  CmdResult r = calibr8("compare '" + dir + "/net.onnx' '" + dir + "/net.onnx' --dataset '" + kValid + "/set' --report '" +
                        dir + "/weights.bin'");
  expect_one_line(r, 1, "same file as the external data", "compare --report");
  EXPECT_EQ(slurp(dir + "/weights.bin"), bytes);
  fs::remove_all(dir);
}

// 3000 unsupported nodes: the line names them but stays readable.
TEST(UsageErrors, VeryLongErrorsAreCut) {
  std::string dir = temp_dir();
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto io = [](onnx::ValueInfoProto* vi, const std::string& name) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t v : {1, 1, 28, 28}) tt->mutable_shape()->add_dim()->set_dim_value(v);
  };
  io(g->add_input(), "v0");
  for (int i = 0; i < 3000; ++i) {
    auto* n = g->add_node();
    n->set_name("mystery_" + std::to_string(i));
    n->set_op_type("Mystery");
    n->set_domain("com.example");
    n->add_input("v" + std::to_string(i));
    n->add_output("v" + std::to_string(i + 1));
  }
  io(g->add_output(), "v3000");
  auto* d = m.add_opset_import();
  d->set_domain("com.example");
  d->set_version(1);
  std::ofstream(dir + "/many.onnx", std::ios::binary) << m.SerializeAsString();
  CmdResult r = calibr8("run '" + dir + "/many.onnx' '" + kValid + "/img.pgm'");
  expect_one_line(r, 1, "3000 unsupported node(s): 'mystery_0'", "3000 unsupported nodes");
  EXPECT_LT(r.err.size(), 2200u);
  EXPECT_NE(r.err.find("more characters)"), std::string::npos) << r.err.substr(r.err.size() - 100);
  fs::remove_all(dir);
}

}  // namespace
