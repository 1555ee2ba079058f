#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "eval/metrics/topk.h"
#include "eval/subset.h"
#include "eval_test_util.h"
#include "base/error.h"

using namespace c8;

TEST(EvalTopK, IndicesAndTies) {
  const float s[6] = {0.1f, 0.5f, 0.5f, 0.9f, -1.f, 0.5f};
  EXPECT_EQ(topk_indices(s, 6, 4), (std::vector<int>{3, 1, 2, 5}));
  EXPECT_EQ(topk_indices(s, 6, 1), (std::vector<int>{3}));
  EXPECT_EQ(topk_indices(s, 6, 10).size(), 6u);
  EXPECT_EQ(topk_indices(s, 6, 0).size(), 0u);
  const float n[4] = {NAN, 1.f, NAN, 2.f};
  EXPECT_EQ(topk_indices(n, 4, 4), (std::vector<int>{3, 1, 0, 2}));
  EXPECT_EQ(rank_of(s, 6, 5), 3);
}

TEST(EvalTopK, Accumulates) {
  TopK t;
  const float a[7] = {0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  t.add(a, 7, 6);  // top1
  t.add(a, 7, 2);  // rank 4 -> top5
  t.add(a, 7, 1);  // rank 5 -> miss
  const float tie[3] = {1.f, 1.f, 1.f};
  t.add(tie, 3, 0);  // tie: lower index wins -> top1
  t.add(tie, 3, 2);  // rank 2, n < 5 -> top5 only
  EXPECT_EQ(t.count(), 5u);
  EXPECT_DOUBLE_EQ(t.top1(), 2.0 / 5);
  EXPECT_DOUBLE_EQ(t.top5(), 4.0 / 5);
  EXPECT_THROW(t.add(a, 7, 7), Error);
  EXPECT_THROW(t.add(a, 7, -1), Error);
  EXPECT_EQ(t.count(), 5u);
  TopK empty;
  EXPECT_EQ(empty.top1(), 0.0);
}

TEST(EvalSubset, DeterministicAndSorted) {
  auto a = choose_subset(2000, "10%", 42);
  auto b = choose_subset(2000, "10%", 42);
  auto c = choose_subset(2000, "10%", 43);
  ASSERT_EQ(a.size(), 200u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 200u);
  EXPECT_LT(a.back(), 2000u);
  // Golden values: fixed forever (splitmix64 + rejection sampling is platform independent).
  EXPECT_EQ(choose_subset(20, "5", 42), (std::vector<size_t>{2, 6, 8, 13, 16}));  // also checked with a Python port
  SplitMix64 r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);  // reference splitmix64 output for seed 0
}

TEST(EvalSubset, SpecsAndCounts) {
  EXPECT_EQ(choose_subset(7, "", 1), (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(choose_subset(7, "all", 1).size(), 7u);
  EXPECT_EQ(choose_subset(7, "100%", 1).size(), 7u);
  EXPECT_EQ(choose_subset(7, "300", 1).size(), 7u);  // clamped
  EXPECT_EQ(subset_count(2000, "300"), 300u);
  EXPECT_EQ(subset_count(2000, "2.5%"), 50u);
  EXPECT_EQ(subset_count(15, "10%"), 2u);   // 1.5 rounds half up
  EXPECT_EQ(subset_count(14, "10%"), 1u);   // 1.4 rounds down
  EXPECT_EQ(subset_count(3, "1%"), 1u);     // at least one
  EXPECT_EQ(subset_count(0, "10%"), 0u);
  for (const char* bad : {"0", "abc", "-5", "0%", "150%", "x%", "1.5"}) EXPECT_THROW(subset_count(10, bad), Error) << bad;
  EXPECT_NE(c8test::error_of([] { subset_count(10, "abc"); }).find("'abc'"), std::string::npos);
}

TEST(EvalSubset, SplitFirst) {
  auto [a, b] = split_first(5, 2);
  EXPECT_EQ(a, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(b, (std::vector<size_t>{2, 3, 4}));
  auto [c, d] = split_first(3, 10);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_TRUE(d.empty());
}
