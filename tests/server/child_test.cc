// Job processes as the workbench runs them: progress read back from their
// stderr while they run, and the one-line error found behind progress lines.
#include "server/child.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../cli/cli_util.h"
#include "base/progress_lines.h"

namespace c8 {
namespace {

TEST(ProgressLines, LastCompleteLineIsParsed) {
  EXPECT_FALSE(last_progress_line(""));
  EXPECT_FALSE(last_progress_line("calibr8: error: x\n"));
  auto p = last_progress_line("c8-progress\t1\t10\tstatistics\nc8-progress\t4\t10\tbias correction\nwarning: y\nc8-progress\t5\t1");
  ASSERT_TRUE(p);  // the last line is cut short (still being written): the one before counts
  EXPECT_EQ(p->done, 4u);
  EXPECT_EQ(p->total, 10u);
  EXPECT_EQ(p->label, "bias correction");
  EXPECT_FALSE(last_progress_line("c8-progress\tx\t10\tstats\n"));
}

TEST(ProgressLines, ErrorLineIsFoundBehindThem) {
  EXPECT_EQ(last_line("c8-progress\t1\t2\tevaluate\ncalibr8: error: a.jpg: truncated\nc8-progress\t2\t2\tevaluate\n\n"),
            "calibr8: error: a.jpg: truncated");
  EXPECT_EQ(last_line("c8-progress\t1\t2\tevaluate\n"), "");
  EXPECT_EQ(last_line("one line"), "one line");
}

TEST(ProgressLines, JobsWriteThemAndTicksComeWhileTheyRun) {
  const std::string dir = c8test::temp_dir();
  std::atomic<bool> no{false};
  int ticks = 0;
  ChildResult r = run_child("/bin/sleep", {"0.8"}, dir + "/sleep", no, 60, [&] { ++ticks; });
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GE(ticks, 2);  // every 250 ms
  // A calibr8 command run as a job reports its progress in lines, whatever its speed (the last one always).
  const std::string model = c8test::shared("models/mobilenet_v1_0.25_224.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  r = run_child(C8_BINARY, {"evaluate", model, "--dataset", c8test::shared("data/imagenet-sample-500"), "--limit", "3",
                            "--size", "224x224", "--mean", "127.5", "--std", "127.5", "--label-offset", "1"},
                dir + "/eval", no, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto p = last_progress_line(file_tail(dir + "/eval.err", 4096));
  ASSERT_TRUE(p) << r.err;
  EXPECT_EQ(p->done, 3u);
  EXPECT_EQ(p->total, 3u);
  EXPECT_EQ(p->label, "evaluate");
  // Not in a terminal and without the variable: no progress output at all.
  const c8test::CmdResult q = c8test::calibr8("evaluate '" + model + "' --dataset '" + c8test::shared("data/imagenet-sample-500") +
                                              "' --limit 3 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1");
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_EQ(q.err.find("c8-progress"), std::string::npos) << q.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c8
