#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "base/error.h"

using namespace c8;

namespace {

// ---------------------------------------------------------------- helpers

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/c8_onnx_io_XXXXXX";
    char* p = mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

int count_entries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  while (dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
  closedir(d);
  return n;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT c8::Error: ") + e.what();
  }
  return "<no error>";
}

#define EXPECT_HAS(hay, needle) \
  EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "'" << (hay) << "' lacks '" << (needle) << "'"

void add_vi(onnx::ValueInfoProto* vi, const std::string& name, int elem, std::vector<int64_t> dims,
            const std::string& dim0_param = "") {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* sh = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = sh->add_dim();
    if (i == 0 && !dim0_param.empty()) d->set_dim_param(dim0_param);
    else d->set_dim_value(dims[i]);
  }
}

onnx::TensorProto* add_f32_init(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims,
                                const std::vector<float>& vals, bool raw) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t->add_dims(d);
  if (raw) t->set_raw_data(vals.data(), vals.size() * 4);
  else
    for (float v : vals) t->add_float_data(v);
  return t;
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                          std::vector<std::string> out, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

void set_opset(onnx::ModelProto& m, int64_t ir, int64_t opset) {
  m.set_ir_version(ir);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
}

// x[N,3,8,8] -> Conv(w,b) -> Relu -> MaxPool -> Reshape(shape) -> y
onnx::ModelProto small_cnn(bool raw_weights = true) {
  onnx::ModelProto m;
  set_opset(m, 8, 13);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.example");
  ms->set_version(2);
  m.set_producer_name("c8test");
  m.set_producer_version("0.1");
  auto* md = m.add_metadata_props();
  md->set_key("author");
  md->set_value("unit test");
  auto* g = m.mutable_graph();
  g->set_name("small_cnn");
  add_vi(g->add_input(), "x", onnx::TensorProto::FLOAT, {1, 3, 8, 8}, "N");
  std::vector<float> w(4 * 3 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * float(i) - 0.3f;
  add_f32_init(g, "w", {4, 3, 3, 3}, w, raw_weights);
  add_f32_init(g, "b", {4}, {0.5f, -0.25f, 1e-8f, 3.0f}, !raw_weights);
  auto* shp = g->add_initializer();
  shp->set_name("shape");
  shp->set_data_type(onnx::TensorProto::INT64);
  shp->add_dims(2);
  shp->add_int64_data(0);
  shp->add_int64_data(-1);
  auto* conv = add_node(g, "Conv", {"x", "w", "b"}, {"c"}, "conv1");
  auto* a = conv->add_attribute();
  a->set_name("pads"); a->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) a->add_ints(1);
  a = conv->add_attribute();
  a->set_name("kernel_shape"); a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(3); a->add_ints(3);
  a = conv->add_attribute();
  a->set_name("group"); a->set_type(onnx::AttributeProto::INT); a->set_i(1);
  add_node(g, "Relu", {"c"}, {"r"});  // no name: generated
  auto* mp = add_node(g, "MaxPool", {"r"}, {"p", ""}, "pool");
  a = mp->add_attribute();
  a->set_name("kernel_shape"); a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(2); a->add_ints(2);
  a = mp->add_attribute();
  a->set_name("strides"); a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(2); a->add_ints(2);
  a = mp->add_attribute();
  a->set_name("auto_pad"); a->set_type(onnx::AttributeProto::STRING); a->set_s("NOTSET");
  add_node(g, "Reshape", {"p", "shape"}, {"y"}, "flat");
  add_vi(g->add_output(), "y", onnx::TensorProto::FLOAT, {1, 64}, "N");
  return m;
}

std::string ser(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

Graph load_model(const onnx::ModelProto& m, const std::string& name = "mem.onnx", const std::string& dir = "") {
  std::string s = ser(m);
  return load_onnx_bytes(s.data(), s.size(), name, dir);
}

const Node* node_named(const Graph& g, const std::string& n) {
  for (const auto& x : g.nodes)
    if (x.name == n) return &x;
  return nullptr;
}

const Value* value_named(const Graph& g, const std::string& n) {
  int id = g.find_value(n);
  return id < 0 ? nullptr : &g.values[size_t(id)];
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

bool same_attr(const Attribute& a, const Attribute& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Attribute::Float: return std::memcmp(&a.f, &b.f, 4) == 0;
    case Attribute::Int: return a.i == b.i;
    case Attribute::String: return a.s == b.s;
    case Attribute::TensorKind: return same_tensor(a.t, b.t);
    case Attribute::Floats:
      return a.floats.size() == b.floats.size() &&
             (a.floats.empty() || std::memcmp(a.floats.data(), b.floats.data(), a.floats.size() * 4) == 0);
    case Attribute::Ints: return a.ints == b.ints;
    case Attribute::Strings: return a.strings == b.strings;
    case Attribute::GraphKind: return true;
  }
  return false;
}

// Same ops, names, wiring, attributes and constants (bit-exact).
void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.op_histogram(), b.op_histogram());
  EXPECT_EQ(a.opset, b.opset);
  EXPECT_EQ(a.other_opsets, b.other_opsets);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i)
    EXPECT_EQ(a.values[size_t(a.outputs[i])].name, b.values[size_t(b.outputs[i])].name);
  for (const Node& na : a.nodes) {
    if (na.dead) continue;
    const Node* nb = node_named(b, na.name);
    ASSERT_TRUE(nb) << na.name;
    EXPECT_EQ(na.op, nb->op);
    EXPECT_EQ(na.domain, nb->domain);
    ASSERT_EQ(na.attrs.size(), nb->attrs.size()) << na.name;
    for (const auto& kv : na.attrs) {
      ASSERT_TRUE(nb->attrs.count(kv.first)) << na.name << "." << kv.first;
      EXPECT_TRUE(same_attr(kv.second, nb->attrs.at(kv.first))) << na.name << "." << kv.first;
    }
    // wiring by name (trailing omitted optionals may be trimmed)
    auto names = [](const Graph& g, const std::vector<int>& ids) {
      std::vector<std::string> r;
      for (int v : ids) r.push_back(v < 0 ? "" : g.values[size_t(v)].name);
      while (!r.empty() && r.back().empty()) r.pop_back();
      return r;
    };
    EXPECT_EQ(names(a, na.inputs), names(b, nb->inputs)) << na.name;
    EXPECT_EQ(names(a, na.outputs), names(b, nb->outputs)) << na.name;
    for (int v : na.inputs) {
      if (v < 0 || !a.is_const(v)) continue;
      int w = b.find_value(a.values[size_t(v)].name);
      ASSERT_TRUE(b.is_const(w)) << a.values[size_t(v)].name;
      EXPECT_TRUE(same_tensor(a.const_of(v), b.const_of(w))) << a.values[size_t(v)].name;
    }
  }
}

const std::string kMobileNetS = std::string(C8_SHARED_DIR) + "/models/mobilenet_v1_0.25_224.onnx";
const char* kMobileNet = kMobileNetS.c_str();
const std::string kFastestDetS = std::string(C8_SHARED_DIR) + "/models/fastestdet_coco_352.onnx";
const char* kFastestDet = kFastestDetS.c_str();

}  // namespace

// ---------------------------------------------------------------- import

TEST(OnnxImport, SmallModelStructureAttrsConstantsAndShapes) {
  Graph g = load_model(small_cnn());
  EXPECT_EQ(g.verify(), "");
  EXPECT_EQ(g.name, "small_cnn");
  EXPECT_EQ(g.opset, 13);
  EXPECT_EQ(g.ir_version, 8);
  EXPECT_EQ(g.other_opsets.at("com.example"), 2);
  EXPECT_EQ(g.producer_name, "c8test");
  EXPECT_EQ(g.producer_version, "0.1");
  EXPECT_EQ(g.metadata.at("author"), "unit test");
  EXPECT_EQ(import_warnings(g), "");

  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& x = g.values[size_t(g.inputs[0])];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DType::F32);
  EXPECT_EQ(x.shape, (Shape{-1, 3, 8, 8}));
  EXPECT_EQ(x.dim_param0, "N");

  std::map<std::string, int> hist{{"Conv", 1}, {"Relu", 1}, {"MaxPool", 1}, {"Reshape", 1}};
  EXPECT_EQ(g.op_histogram(), hist);
  const Node* conv = node_named(g, "conv1");
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(conv->attr_i("group", 0), 1);
  EXPECT_EQ(g.nodes[1].name, "Relu_1");  // generated
  const Node* pool = node_named(g, "pool");
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->attr_s("auto_pad", ""), "NOTSET");
  ASSERT_EQ(pool->outputs.size(), 2u);
  EXPECT_EQ(pool->outputs[1], -1);  // omitted optional output

  ASSERT_TRUE(g.is_const(conv->inputs[1]));
  const Tensor& w = g.const_of(conv->inputs[1]);
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(w.shape, (Shape{4, 3, 3, 3}));
  EXPECT_FLOAT_EQ(w.data<float>()[5], 0.01f * 5 - 0.3f);
  const Tensor& b = g.const_of(conv->inputs[2]);  // typed float_data
  EXPECT_EQ(b.to_f32_vector(), (std::vector<float>{0.5f, -0.25f, 1e-8f, 3.0f}));
  const Tensor& shp = *value_named(g, "shape")->constant;
  EXPECT_EQ(shp.dtype, DType::I64);
  EXPECT_EQ(shp.to_i64_vector(), (std::vector<int64_t>{0, -1}));

  // shape inference filled intermediates
  const Value* c = value_named(g, "c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dtype, DType::F32);
  ASSERT_TRUE(c->has_shape);
  EXPECT_EQ(c->shape, (Shape{-1, 4, 8, 8}));
  const Value* p = value_named(g, "p");
  EXPECT_EQ(p->shape, (Shape{-1, 4, 4, 4}));
  const Value* y = value_named(g, "y");
  EXPECT_EQ(y->dtype, DType::F32);
  EXPECT_EQ(y->shape.size(), 2u);
}

TEST(OnnxImport, InitializerListedAsInputIsNotARealInput) {
  onnx::ModelProto m = small_cnn();
  add_vi(m.mutable_graph()->add_input(), "w", onnx::TensorProto::FLOAT, {4, 3, 3, 3});
  Graph g = load_model(m);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[size_t(g.inputs[0])].name, "x");
  EXPECT_TRUE(g.is_const(g.find_value("w")));
}

TEST(OnnxImport, AllAttributeKindsAndDomains) {
  onnx::ModelProto m;
  set_opset(m, 7, 11);
  auto* g = m.mutable_graph();
  add_vi(g->add_input(), "x", onnx::TensorProto::FLOAT, {2});
  auto* n = add_node(g, "Custom", {"x", "", "x"}, {"y"}, "custom");
  n->set_domain("ai.onnx");  // normalised to ""
  auto* a = n->add_attribute();
  a->set_name("f"); a->set_type(onnx::AttributeProto::FLOAT); a->set_f(0.125f);
  a = n->add_attribute();
  a->set_name("fs"); a->set_type(onnx::AttributeProto::FLOATS); a->add_floats(1.5f); a->add_floats(-2.f);
  a = n->add_attribute();
  a->set_name("ss"); a->set_type(onnx::AttributeProto::STRINGS); a->add_strings("a"); a->add_strings("bc");
  a = n->add_attribute();
  a->set_name("t"); a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT32);
  a->mutable_t()->add_dims(3);
  for (int v : {7, -8, 9}) a->mutable_t()->add_int32_data(v);
  a = n->add_attribute();
  a->set_name("body"); a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("sub");
  a = n->add_attribute();  // untyped (very old files): inferred from the field
  a->set_name("legacy_i"); a->set_i(42);
  add_vi(g->add_output(), "y", onnx::TensorProto::FLOAT, {2});
  Graph gr = load_model(m);
  const Node* c = node_named(gr, "custom");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->domain, "");
  EXPECT_EQ(c->inputs.size(), 3u);
  EXPECT_EQ(c->inputs[1], -1);
  EXPECT_FLOAT_EQ(c->attr_f("f", 0), 0.125f);
  EXPECT_EQ(c->attr_floats("fs"), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(c->attrs.at("ss").strings, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(c->attrs.at("t").kind, Attribute::TensorKind);
  EXPECT_EQ(c->attrs.at("t").t.to_i64_vector(), (std::vector<int64_t>{7, -8, 9}));
  EXPECT_EQ(c->attrs.at("body").kind, Attribute::GraphKind);
  EXPECT_EQ(c->attrs.at("legacy_i").kind, Attribute::Int);
  EXPECT_EQ(c->attr_i("legacy_i", 0), 42);
  // checker complains about the unknown op: a warning, not an error
  EXPECT_HAS(import_warnings(gr), "onnx checker");
  // subgraphs cannot be exported
  EXPECT_HAS(error_of([&] { onnx_bytes(gr); }), "custom");
}

TEST(OnnxImport, Fp16AndPackedTypedFields) {
  onnx::ModelProto m;
  set_opset(m, 8, 13);
  auto* g = m.mutable_graph();
  add_vi(g->add_input(), "x", onnx::TensorProto::FLOAT16, {3});
  std::vector<float> vals = {1.0f, -2.5f, 0.099975586f};
  // raw fp16
  auto* t = g->add_initializer();
  t->set_name("h_raw");
  t->set_data_type(onnx::TensorProto::FLOAT16);
  t->add_dims(3);
  std::vector<uint16_t> hb;
  for (float v : vals) hb.push_back(float_to_half(v));
  t->set_raw_data(hb.data(), hb.size() * 2);
  // fp16 packed in int32_data
  t = g->add_initializer();
  t->set_name("h_i32");
  t->set_data_type(onnx::TensorProto::FLOAT16);
  t->add_dims(3);
  for (uint16_t h : hb) t->add_int32_data(h);
  // int8 / uint8 / bool / int16 / uint16 in int32_data, uint32 in uint64_data, double
  auto packed = [&](const std::string& name, int type, std::vector<int32_t> v) {
    auto* p = g->add_initializer();
    p->set_name(name);
    p->set_data_type(type);
    p->add_dims(int64_t(v.size()));
    for (int32_t x : v) p->add_int32_data(x);
  };
  packed("i8", onnx::TensorProto::INT8, {-128, 0, 127});
  packed("u8", onnx::TensorProto::UINT8, {0, 128, 255});
  packed("bo", onnx::TensorProto::BOOL, {1, 0, 1});
  packed("i16", onnx::TensorProto::INT16, {-32768, 5, 32767});
  packed("u16", onnx::TensorProto::UINT16, {0, 40000, 65535});
  t = g->add_initializer();
  t->set_name("u32");
  t->set_data_type(onnx::TensorProto::UINT32);
  t->add_dims(2);
  t->add_uint64_data(4000000000u);
  t->add_uint64_data(1);
  t = g->add_initializer();
  t->set_name("f64");
  t->set_data_type(onnx::TensorProto::DOUBLE);
  t->add_dims(1);
  t->add_double_data(3.25);
  add_node(g, "Add", {"x", "h_raw"}, {"s"}, "add1");
  add_node(g, "Add", {"s", "h_i32"}, {"y"}, "add2");
  add_vi(g->add_output(), "y", onnx::TensorProto::FLOAT16, {3});
  Graph gr = load_model(m);
  for (const char* name : {"h_raw", "h_i32"}) {
    const Value* v = value_named(gr, name);
    ASSERT_TRUE(v && v->constant) << name;
    EXPECT_EQ(v->constant->dtype, DType::F16) << name;
    std::vector<float> got = v->constant->to_f32_vector();
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(got[i], vals[i]) << name << "[" << i << "]";
  }
  EXPECT_EQ(value_named(gr, "i8")->constant->to_i64_vector(), (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_EQ(value_named(gr, "u8")->constant->to_i64_vector(), (std::vector<int64_t>{0, 128, 255}));
  EXPECT_EQ(value_named(gr, "bo")->constant->dtype, DType::Bool);
  EXPECT_EQ(value_named(gr, "bo")->constant->to_i64_vector(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(value_named(gr, "i16")->constant->to_i64_vector(), (std::vector<int64_t>{-32768, 5, 32767}));
  EXPECT_EQ(value_named(gr, "u16")->constant->to_i64_vector(), (std::vector<int64_t>{0, 40000, 65535}));
  EXPECT_EQ(value_named(gr, "u32")->constant->dtype, DType::U32);
  EXPECT_EQ(value_named(gr, "u32")->constant->to_i64_vector(), (std::vector<int64_t>{4000000000LL, 1}));
  EXPECT_EQ(value_named(gr, "f64")->constant->get_f64(0), 3.25);
  EXPECT_EQ(value_named(gr, "s")->dtype, DType::F16);

  // round trip keeps every dtype bit-exactly
  std::string bytes = onnx_bytes(gr);
  Graph g2 = load_onnx_bytes(bytes.data(), bytes.size(), "rt.onnx", "");
  for (const char* name : {"h_raw", "h_i32"}) {  // unused initializers are not exported
    const Value *a = value_named(gr, name), *b = value_named(g2, name);
    ASSERT_TRUE(b && b->constant) << name;
    EXPECT_TRUE(same_tensor(*a->constant, *b->constant)) << name;
  }
}

TEST(OnnxImport, TensorSizeMismatchNamesTheTensor) {
  onnx::ModelProto m = small_cnn();
  auto* b = m.mutable_graph()->mutable_initializer(1);  // "b", raw 4 floats
  b->clear_dims();
  b->add_dims(5);
  std::string e = error_of([&] { load_model(m, "bad.onnx"); });
  EXPECT_HAS(e, "bad.onnx: ");
  EXPECT_HAS(e, "'b'");
  EXPECT_EQ(e.find('\n'), std::string::npos);

  onnx::ModelProto m2 = small_cnn(/*raw_weights=*/false);  // "w" typed float_data
  m2.mutable_graph()->mutable_initializer(0)->add_float_data(1.f);
  e = error_of([&] { load_model(m2, "bad2.onnx"); });
  EXPECT_HAS(e, "bad2.onnx: ");
  EXPECT_HAS(e, "'w'");

  onnx::ModelProto m3 = small_cnn();
  m3.mutable_graph()->mutable_initializer(0)->clear_raw_data();
  EXPECT_HAS(error_of([&] { load_model(m3, "nodata.onnx"); }), "'w'");
}

TEST(OnnxImport, StructuralErrors) {
  // the same value produced twice
  onnx::ModelProto m = small_cnn();
  add_node(m.mutable_graph(), "Relu", {"x"}, {"c"}, "dup_producer");
  std::string e = error_of([&] { load_model(m, "dup.onnx"); });
  EXPECT_HAS(e, "dup.onnx: ");
  EXPECT_HAS(e, "'c'");
  // a node reading a value nothing produces (verify())
  onnx::ModelProto m2 = small_cnn();
  m2.mutable_graph()->mutable_node(1)->set_input(0, "ghost");
  e = error_of([&] { load_model(m2, "ghost.onnx"); });
  EXPECT_HAS(e, "ghost.onnx: ");
  EXPECT_HAS(e, "ghost");
  // duplicate node names are made unique (with a warning)
  onnx::ModelProto m3 = small_cnn();
  m3.mutable_graph()->mutable_node(1)->set_name("conv1");
  Graph g3 = load_model(m3);
  std::set<std::string> names;
  for (const auto& n : g3.nodes) names.insert(n.name);
  EXPECT_EQ(names.size(), g3.nodes.size());
  EXPECT_HAS(import_warnings(g3), "conv1");
  // no graph
  onnx::ModelProto m4;
  set_opset(m4, 8, 13);
  EXPECT_HAS(error_of([&] { load_model(m4, "nograph.onnx"); }), "nograph.onnx: ");
}

TEST(OnnxImport, FileErrorsNameThePath) {
  TempDir d;
  std::string good = d.file("good.onnx");
  write_file(good, ser(small_cnn()));
  EXPECT_NO_THROW(load_onnx(good));

  std::string bytes = read_file(good);
  for (size_t cut : {bytes.size() / 2, bytes.size() - 7, size_t(3)}) {
    std::string p = d.file("cut.onnx");
    write_file(p, bytes.substr(0, cut));
    std::string e = error_of([&] { load_onnx(p); });
    EXPECT_HAS(e, p + ": ");
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  std::string empty = d.file("empty.onnx");
  write_file(empty, "");
  EXPECT_HAS(error_of([&] { load_onnx(empty); }), empty + ": file is empty");
  std::string missing = d.file("missing.onnx");
  EXPECT_HAS(error_of([&] { load_onnx(missing); }), missing + ": cannot open");
  std::string text = d.file("text.onnx");
  write_file(text, "this is not a protobuf model at all, just some text\n");
  EXPECT_HAS(error_of([&] { load_onnx(text); }), text + ": ");
  EXPECT_HAS(error_of([&] { load_onnx(d.path); }), d.path + ": ");
  EXPECT_HAS(error_of([&] { load_onnx_bytes("", 0, "buf", ""); }), "buf: ");
}

TEST(OnnxImport, ExternalData) {
  TempDir d;
  ::mkdir(d.file("weights").c_str(), 0755);
  onnx::ModelProto m = small_cnn();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  std::string wbytes = w->raw_data();
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto kv = [&](const std::string& k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  kv("location", "weights/w.bin");
  kv("offset", "16");
  kv("length", std::to_string(wbytes.size()));
  write_file(d.file("weights/w.bin"), std::string(16, 'x') + wbytes + "tail");
  std::string model = d.file("ext.onnx");
  write_file(model, ser(m));
  Graph g = load_onnx(model);
  const Tensor& t = *value_named(g, "w")->constant;
  ASSERT_EQ(t.nbytes(), wbytes.size());
  EXPECT_EQ(std::memcmp(t.raw(), wbytes.data(), wbytes.size()), 0);
  EXPECT_EQ(import_warnings(g), "");  // the checker found the external file

  // relative path is resolved against the model folder, not the cwd
  onnx::ModelProto bad = m;
  auto set_loc = [](onnx::ModelProto& mm, const std::string& loc) {
    auto* ww = mm.mutable_graph()->mutable_initializer(0);
    ww->mutable_external_data(0)->set_value(loc);
  };
  for (std::string loc : {"../escape.bin", "weights/../../escape.bin", "/etc/passwd"}) {
    set_loc(bad, loc);
    write_file(model, ser(bad));
    std::string e = error_of([&] { load_onnx(model); });
    EXPECT_HAS(e, model + ": ");
    EXPECT_HAS(e, "'w'");
    EXPECT_HAS(e, "refused");
  }
  // missing external file
  set_loc(bad, "weights/nope.bin");
  write_file(model, ser(bad));
  EXPECT_HAS(error_of([&] { load_onnx(model); }), "'w'");
  // short external file
  write_file(d.file("weights/short.bin"), std::string(20, 'x'));
  set_loc(bad, "weights/short.bin");
  write_file(model, ser(bad));
  std::string e = error_of([&] { load_onnx(model); });
  EXPECT_HAS(e, "'w'");
  EXPECT_HAS(e, "too short");
  // symlink leading out of the folder
  ::symlink("/etc/hostname", d.file("weights/link.bin").c_str());
  set_loc(bad, "weights/link.bin");
  write_file(model, ser(bad));
  EXPECT_HAS(error_of([&] { load_onnx(model); }), "refused");
  // from memory there is no folder to resolve against
  std::string s = ser(m);
  EXPECT_HAS(error_of([&] { load_onnx_bytes(s.data(), s.size(), "mem", ""); }), "'w'");
}

TEST(OnnxImport, NewerThanCheckerIsAcceptedAndReduceShapesNotTrusted) {
  // IR 10 / opset 21 (today's exporters): ONNX 1.12 must not refuse it.
  onnx::ModelProto m;
  set_opset(m, 10, 21);
  auto* g = m.mutable_graph();
  add_vi(g->add_input(), "x", onnx::TensorProto::FLOAT, {1, 4, 6, 6});
  auto* axes = g->add_initializer();
  axes->set_name("axes");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(2);
  axes->add_int64_data(2);
  axes->add_int64_data(3);
  add_node(g, "Relu", {"x"}, {"r"}, "relu");
  add_node(g, "ReduceMean", {"r", "axes"}, {"m"}, "gap");  // opset-18 form: axes as input
  add_node(g, "Flatten", {"m"}, {"y"}, "flat");
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  Graph gr = load_model(m, "new.onnx");
  EXPECT_EQ(gr.opset, 21);
  EXPECT_EQ(gr.ir_version, 10);
  EXPECT_EQ(import_warnings(gr).find("ir_version"), std::string::npos) << import_warnings(gr);
  // Relu (unchanged op) is inferred; ReduceMean-13's inference would give
  // [1,1,1,1] here, so nothing downstream of it is trusted.
  EXPECT_EQ(value_named(gr, "r")->shape, (Shape{1, 4, 6, 6}));
  const Value* mv = value_named(gr, "m");
  EXPECT_TRUE(!mv->has_shape || mv->shape == (Shape{1, 4, 1, 1}));
  const Value* yv = value_named(gr, "y");
  EXPECT_TRUE(!yv->has_shape || yv->shape == (Shape{1, 4}));
  // exported with an IR version that matches the opset
  onnx::ModelProto back;
  graph_to_proto(gr, back);
  EXPECT_EQ(back.ir_version(), 10);
}

TEST(OnnxImport, AiOnnxDomainSpellingAndOldIrWithoutGraphName) {
  onnx::ModelProto m = small_cnn();
  m.mutable_opset_import(0)->set_domain("ai.onnx");
  m.mutable_opset_import(0)->set_version(12);
  Graph g = load_model(m);
  EXPECT_EQ(g.opset, 12);
  EXPECT_EQ(g.other_opsets.count("ai.onnx"), 0u);
  EXPECT_EQ(g.other_opsets.at("com.example"), 2);
}

TEST(OnnxImport, ModelOver64MB) {
  TempDir d;
  onnx::ModelProto m = small_cnn();
  auto* g = m.mutable_graph();
  const int64_t n = 18 * 1024 * 1024;  // 72 MB of float32
  std::vector<float> big(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += 4096) big[size_t(i)] = float(i);
  big[size_t(n - 1)] = 42.f;
  add_f32_init(g, "big", {n}, big, true);
  add_node(g, "Identity", {"big"}, {"big_out"}, "id_big");
  add_vi(g->add_output(), "big_out", onnx::TensorProto::FLOAT, {n});
  std::string p = d.file("big.onnx");
  write_file(p, ser(m));
  big = std::vector<float>();
  Graph gr = load_onnx(p);
  const Tensor& t = *value_named(gr, "big")->constant;
  ASSERT_EQ(t.numel(), n);
  EXPECT_EQ(t.data<float>()[4096], 4096.f);
  EXPECT_EQ(t.data<float>()[n - 1], 42.f);
  EXPECT_EQ(value_named(gr, "big_out")->shape, (Shape{n}));
  // and it saves again
  std::string out = d.file("big_rt.onnx");
  save_onnx(gr, out);
  Graph g2 = load_onnx(out);
  EXPECT_TRUE(same_tensor(t, *value_named(g2, "big")->constant));
}

// ---------------------------------------------------------------- export

TEST(OnnxExport, RoundTripIsBitExact) {
  Graph g = load_model(small_cnn());
  std::string bytes = onnx_bytes(g);
  Graph g2 = load_onnx_bytes(bytes.data(), bytes.size(), "rt.onnx", "");
  EXPECT_EQ(g2.verify(), "");
  expect_same_graph(g, g2);
  EXPECT_EQ(g2.metadata.at("author"), "unit test");
  EXPECT_EQ(g2.producer_name, "c8test");
  const Value& x = g2.values[size_t(g2.inputs[0])];
  EXPECT_EQ(x.shape, (Shape{-1, 3, 8, 8}));
  EXPECT_EQ(x.dim_param0, "N");
  // value_info kept for intermediates
  onnx::ModelProto mp;
  graph_to_proto(g, mp);
  EXPECT_EQ(mp.ir_version(), 8);
  bool found_c = false;
  for (const auto& vi : mp.graph().value_info()) found_c |= vi.name() == "c";
  EXPECT_TRUE(found_c);
  // second round trip gives the same bytes
  EXPECT_EQ(onnx_bytes(g2), bytes);
}

TEST(OnnxExport, QuantizedConstantsAndDeadNodes) {
  Graph g;
  g.opset = 13;
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {1, 8};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  Tensor scale = Tensor::scalar_f32(0.05f);
  Tensor zp(DType::I8, {});
  *zp.data<int8_t>() = -3;
  Tensor q(DType::I8, {8});
  for (int i = 0; i < 8; ++i) q.data<int8_t>()[i] = int8_t(i * 30 - 120);
  Tensor u(DType::U8, {2});
  u.data<uint8_t>()[0] = 255;
  Tensor i32(DType::I32, {2});
  i32.data<int32_t>()[0] = -7;
  i32.data<int32_t>()[1] = 1 << 30;
  int s = g.add_constant("s", scale), z = g.add_constant("z", zp), qv = g.add_constant("qw", q);
  int uv = g.add_constant("u", u), iv = g.add_constant("i32", i32);
  int xq = g.add_value("xq", DType::I8), xd = g.add_value("xd", DType::F32), wd = g.add_value("wd", DType::F32);
  int y = g.add_value("y", DType::F32), dead_out = g.add_value("dead_out", DType::F32);
  g.add_node("QuantizeLinear", {x, s, z}, {xq}, "q");
  g.add_node("DequantizeLinear", {xq, s, z}, {xd}, "dq");
  g.add_node("DequantizeLinear", {qv, s, z}, {wd}, "dqw");
  int add = g.add_node("Add", {xd, wd}, {y}, "add");
  int dn = g.add_node("Mul", {uv, iv}, {dead_out}, "dead");
  g.nodes[size_t(dn)].dead = true;
  g.outputs = {y};
  ASSERT_EQ(g.verify(), "");
  std::string bytes = onnx_bytes(g);
  Graph g2 = load_onnx_bytes(bytes.data(), bytes.size(), "q.onnx", "");
  EXPECT_EQ(g2.op_histogram(), (std::map<std::string, int>{{"QuantizeLinear", 1}, {"DequantizeLinear", 2}, {"Add", 1}}));
  EXPECT_EQ(g2.find_value("u"), -1);  // only read by a dead node
  const Value* qw = value_named(g2, "qw");
  ASSERT_TRUE(qw && qw->constant);
  EXPECT_TRUE(same_tensor(*qw->constant, q));
  EXPECT_TRUE(same_tensor(*value_named(g2, "z")->constant, zp));
  EXPECT_EQ(value_named(g2, "xq")->dtype, DType::I8);
  expect_same_graph(g, g2);

  // int32 / uint8 constants survive too, read by live nodes (a valid model:
  // the writer refuses the dead Mul of u8 by i32, which ONNX has no type for)
  int u_out = g.add_value("u_out", DType::U8), i_out = g.add_value("i_out", DType::I32);
  g.values[size_t(u_out)].shape = {2};
  g.values[size_t(i_out)].shape = {2};
  g.values[size_t(u_out)].has_shape = g.values[size_t(i_out)].has_shape = true;
  g.add_node("Identity", {uv}, {u_out}, "keep_u");
  g.add_node("Identity", {iv}, {i_out}, "keep_i32");
  g.outputs = {y, u_out, i_out};
  g.nodes[size_t(dn)].dead = false;
  EXPECT_HAS(error_of([&] { onnx_bytes(g); }), "not valid ONNX");
  g.nodes[size_t(dn)].dead = true;
  bytes = onnx_bytes(g);
  Graph g3 = load_onnx_bytes(bytes.data(), bytes.size(), "q3.onnx", "");
  EXPECT_TRUE(same_tensor(*value_named(g3, "u")->constant, u));
  EXPECT_TRUE(same_tensor(*value_named(g3, "i32")->constant, i32));

  // post-ops cannot be expressed in ONNX
  g.nodes[size_t(add)].post_ops.push_back(PostOp{});
  std::string e = error_of([&] { onnx_bytes(g); });
  EXPECT_HAS(e, "'add'");
  EXPECT_HAS(e, "post-op");
}

TEST(OnnxExport, SaveIsAtomic) {
  TempDir d;
  Graph g = load_model(small_cnn());
  std::string p = d.file("out.onnx");
  save_onnx(g, p);
  EXPECT_EQ(count_entries(d.path), 1);
  Graph g2 = load_onnx(p);
  expect_same_graph(g, g2);

  // overwrite keeps a complete file and leaves no temp files
  save_onnx(g2, p);
  EXPECT_EQ(count_entries(d.path), 1);
  EXPECT_NO_THROW(load_onnx(p));

  // missing folder: error naming the path, nothing created
  std::string bad = d.file("nodir/out.onnx");
  EXPECT_HAS(error_of([&] { save_onnx(g, bad); }), bad + ": ");
  EXPECT_FALSE(exists(d.file("nodir")));
  EXPECT_EQ(count_entries(d.path), 1);

  // export failure (post-op) leaves the existing file untouched and no temp
  std::string before = read_file(p);
  Graph g3 = g;
  g3.nodes[0].post_ops.push_back(PostOp{});
  EXPECT_HAS(error_of([&] { save_onnx(g3, p); }), p + ": ");
  EXPECT_EQ(read_file(p), before);
  EXPECT_EQ(count_entries(d.path), 1);

  // read-only folder (skipped as root, who may write anyway)
  if (::geteuid() != 0) {
    std::string ro = d.file("ro");
    ::mkdir(ro.c_str(), 0555);
    EXPECT_HAS(error_of([&] { save_onnx(g, ro + "/m.onnx"); }), ro + "/m.onnx: ");
    EXPECT_EQ(count_entries(ro), 0);
  }
}

// ---------------------------------------------------------------- real files

TEST(OnnxImport, MobileNetV1) {
  if (!exists(kMobileNet)) GTEST_SKIP() << kMobileNet << " not present";
  Graph g = load_onnx(kMobileNet);
  EXPECT_EQ(g.verify(), "");
  auto h = g.op_histogram();
  EXPECT_EQ(h["Conv"], 28);
  EXPECT_GT(g.parameter_count(), 400000);
  ASSERT_EQ(g.inputs.size(), 1u);
  const Value& in = g.values[size_t(g.inputs[0])];
  EXPECT_EQ(in.dtype, DType::F32);
  EXPECT_EQ(in.shape.size(), 4u);
  // most intermediates got a shape from inference
  int with_shape = 0, total = 0;
  for (const auto& n : g.nodes)
    for (int v : n.outputs)
      if (v >= 0) ++total, with_shape += g.values[size_t(v)].has_shape;
  EXPECT_EQ(with_shape, total);
  // round trip
  std::string bytes = onnx_bytes(g);
  Graph g2 = load_onnx_bytes(bytes.data(), bytes.size(), "mnv1_rt.onnx", "");
  expect_same_graph(g, g2);
}

TEST(OnnxImport, FastestDet) {
  if (!exists(kFastestDet)) GTEST_SKIP() << kFastestDet << " not present";
  Graph g = load_onnx(kFastestDet);
  EXPECT_EQ(g.verify(), "");
  EXPECT_EQ(g.opset, 11);
  EXPECT_GT(g.op_histogram()["Conv"], 10);
  std::string bytes = onnx_bytes(g);
  Graph g2 = load_onnx_bytes(bytes.data(), bytes.size(), "fd_rt.onnx", "");
  expect_same_graph(g, g2);
}

TEST(OnnxImport, LoadTensorPb) {
  const std::string p = "/usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0/input_0.pb";
  if (!exists(p)) GTEST_SKIP() << p << " not present";
  Tensor t = load_tensor_pb(p);
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, (Shape{3, 4, 5}));
  Tensor o = load_tensor_pb("/usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0/output_0.pb");
  ASSERT_EQ(o.numel(), t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(o.data<float>()[i], std::fabs(t.data<float>()[i]));

  const std::string seq = "/usr/share/libonnx-testdata/data/node/test_identity_sequence/test_data_set_0/input_0.pb";
  if (exists(seq)) {
    EXPECT_HAS(error_of([&] { load_tensor_pb(seq); }), seq + ": not a TensorProto");
  }
  TempDir d;
  std::string bad = d.file("bad.pb");
  write_file(bad, read_file(p).substr(0, 10));
  EXPECT_HAS(error_of([&] { load_tensor_pb(bad); }), bad + ": ");
}
