#include <gtest/gtest.h>

#include "ir/graph.h"

using namespace c8;

TEST(Graph, VerifyCatchesUndefinedInputAndCompactRemovesDead) {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.inputs = {x};
  int y = g.add_value("y", DType::F32);
  int z = g.add_value("z", DType::F32);
  g.add_node("Relu", {x}, {y}, "r1");
  int n2 = g.add_node("Relu", {y}, {z}, "r2");
  g.outputs = {z};
  EXPECT_EQ(g.verify(), "");
  int ghost = g.add_value("ghost", DType::F32);
  g.nodes[size_t(n2)].inputs = {ghost};
  EXPECT_NE(g.verify().find("ghost"), std::string::npos);
  g.nodes[size_t(n2)].inputs = {y};
  // Bypass r2 and compact: r2 and its output disappear.
  g.nodes[size_t(n2)].dead = true;
  g.outputs = {y};
  g.compact();
  EXPECT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.values.size(), 2u);
  EXPECT_EQ(g.verify(), "");
}

TEST(Graph, TopoOrderFixesOutOfOrderNodes) {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.inputs = {x};
  int y = g.add_value("y"), z = g.add_value("z");
  g.add_node("Relu", {y}, {z}, "second");
  g.add_node("Relu", {x}, {y}, "first");
  g.outputs = {z};
  auto order = g.topo_order();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(g.nodes[size_t(order[0])].name, "first");
  g.compact();
  EXPECT_EQ(g.nodes[0].name, "first");
}

TEST(Half, RoundTrip) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.96e-08f}) EXPECT_EQ(half_to_float(float_to_half(f)), f == 5.96e-08f ? half_to_float(1) : f);
}
