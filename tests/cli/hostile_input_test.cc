// Messages stay one printable line whatever the input holds, and `run`
// validates every image before it prints a result.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_util.h"
#include "runtime/error.h"

using namespace c8test;
namespace fs = std::filesystem;

namespace {

const std::string kPng = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000/images/airplane_0000.png";

TEST(Printable, EscapesControlAndInvalidUtf8KeepsValidUtf8) {
  EXPECT_EQ(c8::printable("plain text"), "plain text");
  EXPECT_EQ(c8::printable("a\nb\tc\x1b[31m"), "a\\x0ab\\x09c\\x1b[31m");
  EXPECT_EQ(c8::printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // é, €
  EXPECT_EQ(c8::printable("x\xff\xfe"), "x\\xff\\xfe");
  EXPECT_EQ(c8::printable("\xc0\xaf"), "\\xc0\\xaf");       // overlong '/'
  EXPECT_EQ(c8::printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(c8::printable("\xe2\x82"), "\\xe2\\x82");       // truncated sequence
}

TEST(HostileInput, BinaryJunkInLabelsTxtIsNotEchoedRaw) {
  std::string dir = temp_dir();
  {
    std::ofstream f(dir + "/labels.txt", std::ios::binary);
    f << "img.png \x1b[2J\x07\xff\x01\n";
  }
  CmdResult r = calibr8("evaluate default --dataset '" + dir + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  for (unsigned char c : r.err) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "raw byte " << int(c) << " in: " << r.err;
  EXPECT_NE(r.err.find("labels.txt:1"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(HostileInput, RunChecksEveryImageBeforePrintingAny) {
  std::string dir = temp_dir();
  std::ofstream(dir + "/bad.jpg") << "not a jpeg";
  CmdResult r = calibr8("run default '" + kPng + "' '" + dir + "/bad.jpg'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "") << "results printed before the failure";
  EXPECT_NE(r.err.find("bad.jpg"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

}  // namespace
