// Messages stay one printable line whatever the input holds, and `run`
// validates every image before it prints a result.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_util.h"
#include "base/error.h"

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


TEST(HostileInput, FifosAreRefusedNotWaitedOn) {
  std::string dir = temp_dir();
  for (const char* f : {"f.onnx", "f.json", "img.png"}) ASSERT_EQ(::mkfifo((dir + "/" + f).c_str(), 0600), 0);
  for (const std::string& cmd : {"info '" + dir + "/f.onnx'", "run default '" + kPng + "' --config '" + dir + "/f.json'",
                                 "run default '" + dir + "/img.png'"}) {
    // timeout(1): the old code waited for a writer forever (exit 124 here).
    const std::string err = dir + "/err.txt";
    int st = std::system(("timeout 20 '" + std::string(C8_BINARY) + "' " + cmd + " > /dev/null 2> '" + err + "'").c_str());
    EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 1) << cmd << ": " << slurp(err);
    EXPECT_NE(slurp(err).find("not a regular file"), std::string::npos) << cmd << ": " << slurp(err);
  }
  fs::remove_all(dir);
}

// A Softimage PIC header crashed Debian's stb_image (SIGSEGV): only the
// formats calibr8 lists reach the decoder.
TEST(HostileInput, UnlistedImageFormatsNeverReachTheDecoder) {
  std::string dir = temp_dir();
  std::string pic("\x53\x80\xf6\x34", 4);
  pic += std::string(84, '\0') + "PICT" + std::string("\x00\x04\x00\x04", 4) + std::string(8, '\0') +
         std::string("\x00\x08\x00\xf0", 4) + std::string(40, '\0');
  std::ofstream(dir + "/x.png", std::ios::binary) << pic;
  CmdResult r = calibr8("run default '" + dir + "/x.png'");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("unsupported image format"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(HostileInput, DeeplyNestedJsonIsOneLine) {
  std::string dir = temp_dir();
  std::ofstream(dir + "/deep.json") << std::string(100000, '[') << std::string(100000, ']');
  CmdResult r = calibr8("evaluate default --limit 1 --config '" + dir + "/deep.json'");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("nested deeper"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

// A top-down BMP (negative height) is valid: the header size check once read
// its height as 2^64 - 4.
TEST(HostileInput, TopDownBmpDecodes) {
  std::string dir = temp_dir();
  std::string bmp = "BM";
  auto le32 = [&](uint32_t v) {
    for (int k = 0; k < 4; ++k) bmp.push_back(char((v >> (8 * k)) & 0xff));
  };
  auto le16 = [&](uint16_t v) {
    bmp.push_back(char(v & 0xff));
    bmp.push_back(char(v >> 8));
  };
  le32(14 + 40 + 48);
  le32(0);
  le32(14 + 40);
  le32(40);
  le32(4);
  le32(uint32_t(-4));
  le16(1);
  le16(24);
  le32(0);
  le32(48);
  le32(2835);
  le32(2835);
  le32(0);
  le32(0);
  bmp += std::string(48, '\x80');
  std::ofstream(dir + "/td.bmp", std::ios::binary) << bmp;
  CmdResult r = calibr8("run default '" + dir + "/td.bmp'");
  EXPECT_EQ(r.code, 0) << r.err;
  fs::remove_all(dir);
}

// Outputs never land among a data set's files (labels.txt, classes.txt,
// images): the folder is off limits, whichever flag names it.
TEST(HostileInput, OutputsInsideTheDataSetAreRefused) {
  std::string dir = temp_dir();
  const std::string src = std::string(C8_SHARED_DIR) + "/data/cifar10-test-2000";
  fs::create_directories(dir + "/set/images");
  fs::copy_file(src + "/classes.txt", dir + "/set/classes.txt");
  std::ofstream(dir + "/set/labels.txt") << "images/a.png 0\n";
  fs::copy_file(kPng, dir + "/set/images/a.png");
  const std::string before = slurp(dir + "/set/classes.txt");
  const std::string model = std::string(C8_SHARED_DIR) + "/models/resnet8_cifar10_mlperftiny.onnx";
  for (const std::string& out : {"--report '" + dir + "/set/classes.txt' -o '" + dir + "/o.onnx'",
                                 "-o '" + dir + "/set/images/a.png'", "-o '" + dir + "/set/new.onnx'"}) {
    CmdResult r = calibr8("calibrate '" + model + "' --dataset '" + dir + "/set' --size 32x32 --mean 0 --std 1 " + out);
    EXPECT_EQ(r.code, 1) << out << ": " << r.err;
    EXPECT_NE(r.err.find("data set"), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(dir + "/set/classes.txt"), before);
  EXPECT_FALSE(fs::exists(dir + "/o.onnx"));
  EXPECT_FALSE(fs::exists(dir + "/set/new.onnx"));
  fs::remove_all(dir);
}

}  // namespace
