#include "ir/onnx_import.h"
#include "ir/onnx_validate.h"

// ONNX headers first: <sys/mman.h> defines MAP_TYPE, an enumerator in onnx/defs/parser.h.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <limits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/error.h"

namespace c8 {
namespace {

// ---------------------------------------------------------------- helpers

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string errno_str() { return std::strerror(errno); }

std::string dirname_of(const std::string& path) {
  size_t p = path.find_last_of('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}

const char* onnx_type_name(int32_t t) {
  switch (t) {
    case 0: return "UNDEFINED";
    case 8: return "STRING";
    case 14: return "COMPLEX64";
    case 15: return "COMPLEX128";
    case 17: return "FLOAT8E4M3FN";
    case 18: return "FLOAT8E4M3FNUZ";
    case 19: return "FLOAT8E5M2";
    case 20: return "FLOAT8E5M2FNUZ";
    case 21: return "UINT4";
    case 22: return "INT4";
    case 23: return "FLOAT4E2M1";
    default: return dtype_valid(t) ? dtype_name(DType(t)) : "unknown";
  }
}

// Parses a protobuf message from memory without the 64 MB default limit.
bool parse_proto(google::protobuf::MessageLite& m, const void* data, size_t size) {
  if (size > size_t(INT_MAX)) return false;
  google::protobuf::io::ArrayInputStream ais(data, int(size));
  google::protobuf::io::CodedInputStream cis(&ais);
  cis.SetTotalBytesLimit(INT_MAX);
  if (!m.ParseFromCodedStream(&cis)) return false;
  return cis.ConsumedEntireMessage();
}

// A read-only mapping of a whole file; throws "<path>: ..." on failure.
struct MappedFile {
  void* data = nullptr;
  size_t size = 0;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  explicit MappedFile(const std::string& path) {
    // O_NONBLOCK: a FIFO must not block open(); it is refused below.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw Error(path + ": cannot open: " + errno_str());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      std::string e = errno_str();
      ::close(fd);
      throw Error(path + ": cannot stat: " + e);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      throw Error(path + ": is a directory, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(path + ": not a regular file (a device, FIFO or socket)");
    }
    size = size_t(st.st_size);
    if (size == 0) {
      ::close(fd);
      throw Error(path + ": file is empty");
    }
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (data == MAP_FAILED) {
      data = nullptr;
      throw Error(path + ": cannot read: " + errno_str());
    }
  }
  ~MappedFile() {
    if (data) ::munmap(data, size);
  }
};

// ---------------------------------------------------------------- tensors

[[noreturn]] void tensor_fail(const onnx::TensorProto& tp, const std::string& msg) {
  throw Error("tensor '" + tp.name() + "': " + msg);
}

bool path_escapes(const std::string& loc) {
  if (loc.empty()) return true;
  if (loc[0] == '/' || loc[0] == '\\') return true;
  if (loc.size() >= 2 && loc[1] == ':') return true;  // Windows drive letter
  size_t start = 0;
  while (start <= loc.size()) {
    size_t end = loc.find_first_of("/\\", start);
    if (end == std::string::npos) end = loc.size();
    if (loc.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

void read_external(const onnx::TensorProto& tp, const std::string& base_dir, size_t expected,
                   Tensor& out_tensor, DType dt, const Shape& shape) {
  std::string location;
  int64_t offset = 0, length = -1;
  auto parse_num = [&](const std::string& key, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != 0 || errno != 0 || n < 0)
      tensor_fail(tp, "external data " + key + " '" + v + "' is not a valid number");
    return int64_t(n);
  };
  for (const auto& kv : tp.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = parse_num("offset", kv.value());
    else if (kv.key() == "length") length = parse_num("length", kv.value());
  }
  if (location.empty()) tensor_fail(tp, "external data has no location");
  if (path_escapes(location))
    tensor_fail(tp, "external data location '" + location +
                        "' is absolute or leaves the model folder; refused");
  if (base_dir.empty())
    tensor_fail(tp, "external data '" + location + "' cannot be resolved (model loaded from memory)");
  std::string full = base_dir + "/" + location;
  // Refuse symlinks that lead out of the model folder.
  char* real_base = ::realpath(base_dir.c_str(), nullptr);
  char* real_file = ::realpath(full.c_str(), nullptr);
  std::string rb = real_base ? real_base : "", rf = real_file ? real_file : "";
  std::free(real_base);
  std::free(real_file);
  if (rf.empty()) tensor_fail(tp, "external data file '" + full + "' not found: " + errno_str());
  if (!rb.empty() && rb != "/" && rf.compare(0, rb.size() + 1, rb + "/") != 0)
    tensor_fail(tp, "external data file '" + location + "' resolves outside the model folder; refused");

  int fd = ::open(rf.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block; refused below
  if (fd < 0) tensor_fail(tp, "cannot open external data file '" + full + "': " + errno_str());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    tensor_fail(tp, "external data '" + full + "' is not a regular file");
  }
  int64_t fsize = int64_t(st.st_size);
  if (offset > fsize) {
    ::close(fd);
    tensor_fail(tp, "external data file '" + full + "' is too short (" + std::to_string(fsize) +
                        " bytes, offset " + std::to_string(offset) + ")");
  }
  if (length < 0) length = std::min<int64_t>(fsize - offset, int64_t(expected));
  if (length > fsize - offset) {  // (offset + length could overflow)
    ::close(fd);
    tensor_fail(tp, "external data file '" + full + "' is too short (" + std::to_string(fsize) +
                        " bytes, offset " + std::to_string(offset) + " + length " + std::to_string(length) + ")");
  }
  if (size_t(length) != expected) {
    ::close(fd);
    tensor_fail(tp, "external data is " + std::to_string(length) + " bytes but shape " +
                        shape_str(shape) + " of " + dtype_name(dt) + " needs " +
                        std::to_string(expected));
  }
  out_tensor = Tensor(dt, shape);
  uint8_t* dst = out_tensor.data<uint8_t>();
  size_t done = 0;
  while (done < expected) {
    ssize_t r = ::pread(fd, dst + done, expected - done, off_t(offset + int64_t(done)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string e = r < 0 ? errno_str() : "unexpected end of file";
      ::close(fd);
      tensor_fail(tp, "reading external data '" + full + "': " + e);
    }
    done += size_t(r);
  }
  ::close(fd);
}

template <class Src, class Dst>
void copy_typed(const google::protobuf::RepeatedField<Src>& src, Tensor& t) {
  Dst* d = t.data<Dst>();
  for (int i = 0; i < src.size(); ++i) d[i] = static_cast<Dst>(src.Get(i));
}

// ---------------------------------------------------------------- model import

DType dtype_of_elem(int32_t elem) {
  return dtype_valid(elem) ? DType(elem) : DType::Undefined;
}

struct TypeInfo {
  DType dtype = DType::Undefined;
  bool has_shape = false;
  Shape shape;
  std::string dim_param0;
  bool complete() const {
    if (dtype == DType::Undefined || !has_shape) return false;
    for (int64_t d : shape)
      if (d < 0) return false;
    return true;
  }
};

bool type_info_of(const onnx::TypeProto& tp, TypeInfo& out) {
  if (!tp.has_tensor_type()) return false;
  const auto& tt = tp.tensor_type();
  out = TypeInfo();
  out.dtype = dtype_of_elem(tt.elem_type());
  if (tt.has_shape()) {
    out.has_shape = true;
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto& d = tt.shape().dim(i);
      if (d.has_dim_value() && d.dim_value() >= 0) {
        out.shape.push_back(d.dim_value());
      } else {
        out.shape.push_back(-1);
        if (i == 0 && d.has_dim_param()) out.dim_param0 = d.dim_param();
      }
    }
  }
  return true;
}

constexpr int64_t kNewestKnownOpset = 22;

// Ops whose ONNX 1.12 shape inference is wrong or missing for opsets 18+, so
// inferred shapes downstream of them are not trusted in newer models.
const std::set<std::string>& ops_changed_after_17() {
  static const std::set<std::string> s = {
      "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
      "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "Split", "Resize", "Pad",
      "AveragePool", "LpPool", "GroupNormalization", "QuantizeLinear", "DequantizeLinear",
      "Col2Im", "CenterCropPad", "DeformConv", "Gelu", "GridSample", "AffineGrid",
      "ScatterElements", "ScatterND", "If", "Loop", "Scan"};
  return s;
}

class Importer {
 public:
  Importer(std::string file, std::string base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  Graph run(const void* data, size_t size) {
    if (size == 0) fail("file is empty");
    if (size > size_t(INT_MAX))
      fail("model file is over 2 GB; models that large must keep their weights in external data");
    onnx::ModelProto model;
    if (!parse_proto(model, data, size))
      fail("not a valid ONNX model (truncated file or not protobuf)");
    return run(model);
  }

 private:
  std::string file_, base_dir_;
  std::vector<std::string> warnings_;

  [[noreturn]] void fail(const std::string& m) const { throw Error(file_ + ": " + one_line(m)); }
  void warn(const std::string& m) { warnings_.push_back(one_line(m)); }

  Graph run(onnx::ModelProto& model) {
    if (!model.has_graph()) fail("model has no graph (truncated file or not an ONNX model)");
    const onnx::GraphProto& gp = model.graph();
    Graph g;
    g.name = gp.name();
    g.ir_version = model.ir_version();
    g.producer_name = model.producer_name();
    g.producer_version = model.producer_version();
    for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();
    g.metadata.erase("c8.warnings");

    // --- opsets
    bool have_onnx = false;
    std::unordered_map<std::string, int> opset_map;
    for (const auto& op : model.opset_import()) {
      std::string dom = op.domain() == "ai.onnx" ? "" : op.domain();
      opset_map[dom] = int(op.version());
      if (dom.empty()) {
        g.opset = op.version();
        have_onnx = true;
      } else {
        g.other_opsets[dom] = op.version();
      }
    }
    if (model.opset_import_size() == 0) {
      if (model.ir_version() >= 3) fail("model has no opset_import (truncated file or not an ONNX model)");
      g.opset = 1;
      have_onnx = true;
      opset_map[""] = 1;
      warn("model has no opset_import; assuming ai.onnx opset 1");
    }
    if (!have_onnx) {
      for (const auto& n : gp.node())
        if (n.domain().empty() || n.domain() == "ai.onnx") {
          warn("model imports no ai.onnx opset but uses ai.onnx ops; assuming opset " + std::to_string(g.opset));
          opset_map[""] = int(g.opset);
          break;
        }
    }
    // An opset past the newest ONNX release calibr8 knows may have changed what
    // an op means (Softmax did at 13): refuse rather than guess. ONNX 1.17
    // (2024) defines ai.onnx opset 22; ops_changed_after_17() covers 18-22.
    if (g.opset > kNewestKnownOpset)
      fail("ai.onnx opset " + std::to_string(g.opset) + " is newer than any calibr8 knows (up to " +
           std::to_string(kNewestKnownOpset) + "); re-export the model with opset " + std::to_string(kNewestKnownOpset) +
           " or lower");
    if (gp.output_size() == 0) fail("graph has no outputs");

    try {
      check_window_attributes(gp);
    } catch (const Error& e) {
      fail(e.what());
    }
    bool checker_too_old = run_checker(model);

    // --- initializers (converted first; their proto data is released as we go)
    std::unordered_map<std::string, Tensor> inits;
    std::vector<std::string> init_order;
    auto* mgp = model.mutable_graph();
    for (int i = 0; i < mgp->initializer_size(); ++i) {
      onnx::TensorProto* tp = mgp->mutable_initializer(i);
      if (tp->name().empty()) fail("initializer #" + std::to_string(i) + " has no name");
      if (inits.count(tp->name())) fail("initializer '" + tp->name() + "' is defined twice");
      Tensor t;
      try {
        t = tensor_from_proto(*tp, base_dir_);
      } catch (const Error& e) {
        fail(std::string("initializer ") + e.what());
      } catch (const std::exception& e) {
        fail("initializer '" + tp->name() + "': " + e.what());
      }
      inits.emplace(tp->name(), std::move(t));
      // Remembered so that no command writes an output onto them.
      if (tp->data_location() == onnx::TensorProto::EXTERNAL)
        for (const auto& kv : tp->external_data())
          if (kv.key() == "location") {
            const std::string f = base_dir_ + "/" + kv.value();
            if (std::find(g.external_files.begin(), g.external_files.end(), f) == g.external_files.end())
              g.external_files.push_back(f);
          }
      init_order.push_back(tp->name());
      release_data(*tp);
    }
    for (int i = 0; i < gp.sparse_initializer_size(); ++i)
      fail("sparse initializer '" + gp.sparse_initializer(i).values().name() + "' is not supported");

    // --- shape inference on a light copy (big weights without data)
    std::unordered_map<std::string, TypeInfo> inferred = infer_shapes(model, inits, opset_map);

    // --- graph values
    std::unordered_map<std::string, int> ids;
    auto value_id = [&](const std::string& name) {
      auto it = ids.find(name);
      if (it != ids.end()) return it->second;
      int id = g.add_value(name);
      ids.emplace(name, id);
      return id;
    };
    for (const auto& name : init_order) {
      int id = g.add_constant(name, inits[name]);
      ids.emplace(name, id);
    }
    inits.clear();
    std::unordered_set<std::string> seen_inputs;
    for (const auto& vi : gp.input()) {
      if (vi.name().empty()) fail("graph input with an empty name");
      if (!seen_inputs.insert(vi.name()).second) fail("graph input '" + vi.name() + "' is listed twice");
      if (ids.count(vi.name())) continue;  // initializer listed as input (old IR style)
      int id = value_id(vi.name());
      apply_type(g.values[size_t(id)], vi.type());
      g.inputs.push_back(id);
    }

    // --- nodes
    std::unordered_map<std::string, int> produced_by;  // value name -> node index
    std::unordered_set<std::string> node_names;
    for (int i = 0; i < gp.node_size(); ++i)
      if (!gp.node(i).name().empty()) node_names.insert(gp.node(i).name());
    std::unordered_set<std::string> used_names;
    for (int i = 0; i < gp.node_size(); ++i) {
      const onnx::NodeProto& np = gp.node(i);
      Node n;
      n.op = np.op_type();
      n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
      std::string name = np.name();
      if (name.empty()) {
        name = n.op + "_" + std::to_string(i);
        for (int k = 1; node_names.count(name) || used_names.count(name); ++k)
          name = n.op + "_" + std::to_string(i) + "_" + std::to_string(k);
      } else if (used_names.count(name)) {
        std::string base = name;
        for (int k = 1; node_names.count(name) || used_names.count(name); ++k)
          name = base + "_" + std::to_string(k);
        warn("duplicate node name '" + base + "' renamed to '" + name + "'");
      }
      used_names.insert(name);
      n.name = name;
      std::string who = "node '" + name + "' (" + n.op + ")";
      if (n.op.empty()) fail("node #" + std::to_string(i) + " ('" + np.name() + "') has no op_type");
      check_arity(np, who, g.opset);
      for (const auto& in : np.input()) n.inputs.push_back(in.empty() ? -1 : value_id(in));
      for (const auto& out : np.output()) {
        if (out.empty()) {
          n.outputs.push_back(-1);
          continue;
        }
        auto pit = produced_by.find(out);
        if (pit != produced_by.end() && pit->second == i)  // (this node is not in g.nodes yet)
          fail(who + ": lists output '" + out + "' twice");
        if (pit != produced_by.end())
          fail(who + ": output '" + out + "' is already produced by node '" +
               g.nodes[size_t(pit->second)].name + "'");
        if (ids.count(out) && g.values[size_t(ids[out])].constant)
          fail(who + ": output '" + out + "' has the name of an initializer");
        produced_by.emplace(out, i);
        n.outputs.push_back(value_id(out));
      }
      for (const auto& ap : np.attribute()) {
        if (ap.name().empty()) fail(who + ": attribute with an empty name");
        if (n.attrs.count(ap.name())) fail(who + ": attribute '" + ap.name() + "' is given twice");
        n.attrs[ap.name()] = convert_attr(ap, who);
      }
      int nid = int(g.nodes.size());
      for (int o : n.outputs)
        if (o >= 0) g.values[size_t(o)].producer = nid;
      g.nodes.push_back(std::move(n));
    }

    // --- outputs
    for (const auto& vi : gp.output()) {
      if (vi.name().empty()) fail("graph output with an empty name");
      int id = value_id(vi.name());
      Value& v = g.values[size_t(id)];
      if (!v.constant) apply_type(v, vi.type());
      g.outputs.push_back(id);
    }
    // declared value_info
    std::unordered_map<std::string, const onnx::ValueInfoProto*> declared;
    for (const auto& vi : gp.value_info()) declared[vi.name()] = &vi;

    // --- intermediate types: declared value_info, then trusted inferred info
    std::vector<char> tainted(g.values.size(), 0);
    if (checker_too_old || g.opset > 17) {
      const auto& changed = ops_changed_after_17();
      for (int ni : g.topo_order()) {
        const Node& n = g.nodes[size_t(ni)];
        bool t = changed.count(n.op) != 0 || !n.domain.empty();
        for (int v : n.inputs)
          if (v >= 0 && tainted[size_t(v)]) t = true;
        if (t)
          for (int v : n.outputs)
            if (v >= 0) tainted[size_t(v)] = 1;
      }
    }
    for (size_t vid = 0; vid < g.values.size(); ++vid) {
      Value& v = g.values[vid];
      if (v.constant) continue;
      auto dit = declared.find(v.name);
      if (dit != declared.end()) apply_type(v, dit->second->type(), /*only_fill=*/true);
      if (tainted[vid]) continue;
      auto iit = inferred.find(v.name);
      if (iit != inferred.end()) merge_info(v, iit->second);
    }

    // Softmax, LogSoftmax and Hardmax changed meaning at opset 13 (coerce to
    // 2-D vs. one axis): nodes carry the model opset so kernels pick the right
    // one. Attributes starting with '_' are internal and never exported.
    for (Node& node : g.nodes)
      if (node.domain.empty() && (node.op == "Softmax" || node.op == "LogSoftmax" || node.op == "Hardmax"))
        node.set_i("_opset", g.opset);

    std::string err = g.verify();
    if (!err.empty()) fail(err);
    if (!warnings_.empty()) {
      std::string w;
      for (const auto& s : warnings_) w += (w.empty() ? "" : "\n") + s;
      g.metadata["c8.warnings"] = w;
    }
    return g;
  }

  static void release_data(onnx::TensorProto& tp) {
    // Keep name/dims/type; the data now lives in the Tensor.
    std::string().swap(*tp.mutable_raw_data());
    tp.clear_raw_data();
    tp.clear_float_data();
    tp.clear_int32_data();
    tp.clear_int64_data();
    tp.clear_double_data();
    tp.clear_uint64_data();
    tp.clear_string_data();
  }

  // Fills value dtype/shape from a TypeProto. With only_fill, keeps what the
  // value already knows and only adds missing pieces.
  static void apply_type(Value& v, const onnx::TypeProto& t, bool only_fill = false) {
    TypeInfo ti;
    if (!type_info_of(t, ti)) return;
    if (!only_fill) {
      v.dtype = ti.dtype;
      v.has_shape = ti.has_shape;
      v.shape = ti.shape;
      v.dim_param0 = ti.dim_param0;
      return;
    }
    merge_info(v, ti);
  }

  static void merge_info(Value& v, const TypeInfo& ti) {
    if (v.dtype == DType::Undefined) v.dtype = ti.dtype;
    if (!ti.has_shape) return;
    if (!v.has_shape) {
      v.has_shape = true;
      v.shape = ti.shape;
      if (v.dim_param0.empty()) v.dim_param0 = ti.dim_param0;
      return;
    }
    if (v.shape.size() != ti.shape.size()) return;  // conflicting ranks: keep what we had
    for (size_t i = 0; i < v.shape.size(); ++i)
      if (v.shape[i] < 0 && ti.shape[i] >= 0) v.shape[i] = ti.shape[i];
    if (v.dim_param0.empty()) v.dim_param0 = ti.dim_param0;
  }

  Attribute convert_attr(const onnx::AttributeProto& ap, const std::string& who) {
    Attribute a;
    auto type = ap.type();
    if (type == onnx::AttributeProto::UNDEFINED) {  // very old files: infer from the field set
      if (ap.has_f()) type = onnx::AttributeProto::FLOAT;
      else if (ap.has_i()) type = onnx::AttributeProto::INT;
      else if (ap.has_s()) type = onnx::AttributeProto::STRING;
      else if (ap.has_t()) type = onnx::AttributeProto::TENSOR;
      else if (ap.has_g()) type = onnx::AttributeProto::GRAPH;
      else if (ap.floats_size()) type = onnx::AttributeProto::FLOATS;
      else if (ap.ints_size()) type = onnx::AttributeProto::INTS;
      else if (ap.strings_size()) type = onnx::AttributeProto::STRINGS;
      else if (ap.graphs_size()) type = onnx::AttributeProto::GRAPHS;
      else type = onnx::AttributeProto::INTS;
    }
    switch (type) {
      case onnx::AttributeProto::FLOAT: a.kind = Attribute::Float; a.f = ap.f(); break;
      case onnx::AttributeProto::INT: a.kind = Attribute::Int; a.i = ap.i(); break;
      case onnx::AttributeProto::STRING: a.kind = Attribute::String; a.s = ap.s(); break;
      case onnx::AttributeProto::TENSOR:
        a.kind = Attribute::TensorKind;
        try {
          a.t = tensor_from_proto(ap.t(), base_dir_);
        } catch (const std::exception& e) {
          fail(who + ": attribute '" + ap.name() + "': " + e.what());
        }
        break;
      case onnx::AttributeProto::FLOATS:
        a.kind = Attribute::Floats;
        a.floats.assign(ap.floats().begin(), ap.floats().end());
        break;
      case onnx::AttributeProto::INTS:
        a.kind = Attribute::Ints;
        a.ints.assign(ap.ints().begin(), ap.ints().end());
        break;
      case onnx::AttributeProto::STRINGS:
        a.kind = Attribute::Strings;
        a.strings.assign(ap.strings().begin(), ap.strings().end());
        break;
      case onnx::AttributeProto::GRAPH:
      case onnx::AttributeProto::GRAPHS: a.kind = Attribute::GraphKind; break;
      default:
        fail(who + ": attribute '" + ap.name() + "' has unsupported kind " +
             onnx::AttributeProto::AttributeType_Name(type));
    }
    return a;
  }

  // Runs the ONNX checker; its findings become warnings. Returns true when the
  // model is newer than this ONNX release knows (the checker was skipped).
  bool run_checker(const onnx::ModelProto& model) {
    const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    bool opset_too_new = false;
    for (const auto& op : model.opset_import()) {
      std::string dom = op.domain() == "ai.onnx" ? "" : op.domain();
      auto it = ranges.find(dom);
      if (it != ranges.end() && op.version() > it->second.second) opset_too_new = true;
    }
    if (opset_too_new) return true;  // this checker would reject valid new ops: skip it
    try {
      onnx::checker::CheckerContext ctx;
      int ir = int(std::min<int64_t>(model.ir_version(), int64_t(onnx::Version::IR_VERSION)));
      if (ir <= 0) {
        warn("onnx checker: model has no ir_version");
        ir = int(onnx::Version::IR_VERSION);
      }
      ctx.set_ir_version(ir);
      std::unordered_map<std::string, int> imps;
      for (const auto& op : model.opset_import()) {
        imps[op.domain()] = int(op.version());
        if (op.domain() == "ai.onnx") imps[""] = int(op.version());
      }
      if (imps.empty()) imps[""] = 1;
      ctx.set_opset_imports(imps);
      ctx.set_model_dir(base_dir_);
      onnx::checker::LexicalScopeContext lex;
      onnx::checker::check_graph(model.graph(), ctx, lex);
      if (ir >= 8) onnx::checker::check_model_local_functions(model, ctx, lex);
    } catch (const std::exception& e) {
      warn(std::string("onnx checker: ") + e.what());
    } catch (...) {
      warn("onnx checker: unknown failure");
    }
    return false;
  }

  // Input / output counts against the op's ONNX schema, before anything reads
  // them (an ArgMax without inputs was folded as a constant and read inputs[0],
  // found by fuzzing). Ops whose schema changed after opset 17 are left to the
  // kernels' own checks: ONNX 1.12 knows only their old form.
  void check_arity(const onnx::NodeProto& np, const std::string& who, int64_t opset) const {
    if (!np.domain().empty() && np.domain() != "ai.onnx") return;
    if (opset > 17 && ops_changed_after_17().count(np.op_type())) return;
    const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(np.op_type(), int(opset), "");
    if (!s) return;
    auto range = [](int lo, int hi) {
      return hi == std::numeric_limits<int>::max() ? std::to_string(lo) + " or more" : lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
    };
    if (np.input_size() < s->min_input() || np.input_size() > s->max_input())
      fail(who + ": has " + std::to_string(np.input_size()) + " inputs; " + np.op_type() + " takes " +
                  range(s->min_input(), s->max_input()));
    if (np.output_size() < s->min_output() || np.output_size() > s->max_output())
      fail(who + ": has " + std::to_string(np.output_size()) + " outputs; " + np.op_type() + " gives " +
                  range(s->min_output(), s->max_output()));
  }

  // ONNX 1.12's shape inference reads past the end of dims for some malformed
  // nodes (EyeLike of an undefined input, LayerNormalization of a scalar,
  // ConvTranspose of a rank-2 input: SIGSEGV, found by fuzzing). It runs in a
  // forked child, which sends back the inferred value_info and outputs; a child
  // that dies costs the inferred shapes (calibr8 infers its own when it plans),
  // never the process. Returns false with `why` when inference failed or crashed.
  static bool infer_in_child(onnx::ModelProto& copy, onnx::GraphProto& inferred, std::string& why) {
    int fds[2];
    if (::pipe(fds) != 0) {
      why = "pipe: " + errno_str();
      return false;
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]), ::close(fds[1]);
      why = "fork: " + errno_str();
      return false;
    }
    if (pid == 0) {  // child: infer, send 'G' + GraphProto or 'E' + message, leave without cleanup
      ::close(fds[0]);
      std::string msg;
      try {
        onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(false, 0, false));
        onnx::GraphProto g;
        *g.mutable_value_info() = copy.graph().value_info();
        *g.mutable_output() = copy.graph().output();
        msg = "G" + g.SerializeAsString();
      } catch (const std::exception& e) {
        msg = std::string("E") + e.what();
      } catch (...) {
        msg = "Eunknown error";
      }
      for (size_t done = 0; done < msg.size();) {
        const ssize_t w = ::write(fds[1], msg.data() + done, msg.size() - done);
        if (w <= 0 && errno != EINTR) break;
        if (w > 0) done += size_t(w);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string got;
    char buf[65536];
    for (;;) {
      const ssize_t r = ::read(fds[0], buf, sizeof buf);
      if (r > 0) got.append(buf, size_t(r));
      else if (r == 0 || errno != EINTR) break;
    }
    ::close(fds[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st)) {
      why = "ONNX's shape inference crashed on this model (signal " + std::to_string(WTERMSIG(st)) + ")";
      return false;
    }
    if (got.empty() || got[0] != 'G') {
      why = got.size() > 1 ? got.substr(1) : "no result";
      return false;
    }
    if (!inferred.ParseFromArray(got.data() + 1, int(got.size() - 1))) {
      why = "unreadable result";
      return false;
    }
    return true;
  }

  std::unordered_map<std::string, TypeInfo> infer_shapes(
      onnx::ModelProto& model, const std::unordered_map<std::string, Tensor>& inits,
      const std::unordered_map<std::string, int>& opset_map) {
    std::unordered_map<std::string, TypeInfo> out;
    try {
      onnx::ModelProto copy;
      {
        // Copy everything but the initializers, then add them back lightly:
        // small tensors (shape-like data inference may read) keep their data.
        google::protobuf::RepeatedPtrField<onnx::TensorProto> saved;
        saved.Swap(model.mutable_graph()->mutable_initializer());
        copy = model;
        saved.Swap(model.mutable_graph()->mutable_initializer());
      }
      auto* cg = copy.mutable_graph();
      for (const auto& tp : model.graph().initializer()) {
        onnx::TensorProto* nt = cg->add_initializer();
        nt->set_name(tp.name());
        nt->set_data_type(tp.data_type());
        *nt->mutable_dims() = tp.dims();
        auto it = inits.find(tp.name());
        if (it != inits.end() && it->second.numel() <= 4096)
          nt->set_raw_data(it->second.data<char>(), it->second.nbytes());
      }
      // Record ai.onnx under the canonical "" domain.
      bool has_default = false;
      for (const auto& op : copy.opset_import())
        if (op.domain().empty()) has_default = true;
      if (!has_default && opset_map.count("")) {
        auto* op = copy.add_opset_import();
        op->set_domain("");
        op->set_version(opset_map.at(""));
      }
      for (auto& n : *cg->mutable_node())
        if (n.domain() == "ai.onnx") n.set_domain("");
      guard_onnx_shape_inference();
      onnx::GraphProto inferred;
      std::string why;
      if (!infer_in_child(copy, inferred, why)) {
        warn("onnx shape inference failed: " + why);
        return out;
      }
      auto take = [&](const onnx::ValueInfoProto& vi) {
        TypeInfo ti;
        if (!vi.name().empty() && vi.has_type() && type_info_of(vi.type(), ti)) out[vi.name()] = ti;
      };
      for (const auto& vi : inferred.value_info()) take(vi);
      for (const auto& vi : inferred.output()) take(vi);
    } catch (const std::exception& e) {
      warn(std::string("onnx shape inference failed: ") + e.what());
    } catch (...) {
      warn("onnx shape inference failed");
    }
    return out;
  }
};

}  // namespace

// ---------------------------------------------------------------- public API

Tensor tensor_from_proto(const onnx::TensorProto& tp, const std::string& base_dir) {
  int32_t ty = tp.data_type();
  if (ty == onnx::TensorProto::STRING) tensor_fail(tp, "string tensors are not supported");
  if (!dtype_valid(ty))
    tensor_fail(tp, std::string("unsupported data type ") + onnx_type_name(ty) + " (" + std::to_string(ty) + ")");
  DType dt = DType(ty);
  Shape shape(tp.dims().begin(), tp.dims().end());
  size_t esize = dtype_size(dt);
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) tensor_fail(tp, "negative dimension in " + shape_str(shape));
    if (d != 0 && numel > (int64_t(1) << 50) / d) tensor_fail(tp, "shape " + shape_str(shape) + " is too large");
    numel *= d;
  }
  size_t expected = size_t(numel) * esize;
  std::string shape_desc = "shape " + shape_str(shape) + " of " + dtype_name(dt);

  if (tp.has_data_location() && tp.data_location() == onnx::TensorProto::EXTERNAL) {
    Tensor t;
    read_external(tp, base_dir, expected, t, dt, shape);
    return t;
  }

  int64_t typed_count = 0;
  switch (dt) {
    case DType::F32: typed_count = tp.float_data_size(); break;
    case DType::I32: case DType::I16: case DType::I8: case DType::U16: case DType::U8:
    case DType::Bool: case DType::F16: case DType::BF16: typed_count = tp.int32_data_size(); break;
    case DType::I64: typed_count = tp.int64_data_size(); break;
    case DType::F64: typed_count = tp.double_data_size(); break;
    case DType::U32: case DType::U64: typed_count = tp.uint64_data_size(); break;
    default: break;
  }
  bool use_raw = !tp.raw_data().empty() || (tp.has_raw_data() && typed_count == 0);
  if (use_raw) {
    if (tp.raw_data().size() != expected)
      tensor_fail(tp, "raw data is " + std::to_string(tp.raw_data().size()) + " bytes but " + shape_desc +
                          " needs " + std::to_string(expected));
    Tensor t(dt, shape);
    if (expected) std::memcpy(t.raw(), tp.raw_data().data(), expected);
    return t;
  }
  if (typed_count != numel) {
    if (typed_count == 0) tensor_fail(tp, "has no data (" + shape_desc + ")");
    tensor_fail(tp, "has " + std::to_string(typed_count) + " values but " + shape_desc + " needs " +
                        std::to_string(numel));
  }
  Tensor t(dt, shape);
  switch (dt) {
    case DType::F32: copy_typed<float, float>(tp.float_data(), t); break;
    case DType::I32: copy_typed<int32_t, int32_t>(tp.int32_data(), t); break;
    case DType::I16: copy_typed<int32_t, int16_t>(tp.int32_data(), t); break;
    case DType::I8: copy_typed<int32_t, int8_t>(tp.int32_data(), t); break;
    case DType::U16: case DType::F16: case DType::BF16: copy_typed<int32_t, uint16_t>(tp.int32_data(), t); break;
    case DType::U8: copy_typed<int32_t, uint8_t>(tp.int32_data(), t); break;
    case DType::Bool: {
      uint8_t* d = t.data<uint8_t>();
      for (int i = 0; i < tp.int32_data_size(); ++i) d[i] = tp.int32_data(i) != 0;
      break;
    }
    case DType::I64: copy_typed<int64_t, int64_t>(tp.int64_data(), t); break;
    case DType::F64: copy_typed<double, double>(tp.double_data(), t); break;
    case DType::U32: copy_typed<uint64_t, uint32_t>(tp.uint64_data(), t); break;
    case DType::U64: copy_typed<uint64_t, uint64_t>(tp.uint64_data(), t); break;
    default: tensor_fail(tp, std::string("unsupported data type ") + dtype_name(dt));
  }
  return t;
}

Graph load_onnx_bytes(const void* data, size_t size, const std::string& display_name,
                      const std::string& base_dir) {
  Importer imp(display_name, base_dir);
  try {
    return imp.run(data, size);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(display_name + ": out of memory while loading the model");
  } catch (const std::exception& e) {
    throw Error(display_name + ": " + one_line(e.what()));
  }
}

Graph load_onnx(const std::string& path) {
  MappedFile f(path);
  return load_onnx_bytes(f.data, f.size, path, dirname_of(path));
}

Tensor load_tensor_pb(const std::string& path) {
  MappedFile f(path);
  onnx::TensorProto tp;
  if (!parse_proto(tp, f.data, f.size)) throw Error(path + ": not a valid TensorProto file (truncated or not protobuf)");
  // SequenceProto / OptionalProto / MapProto files parse as a TensorProto with
  // garbage dims and a "segment" (their field 3); nothing real uses segments.
  if (tp.has_segment() || tp.GetReflection()->GetUnknownFields(tp).field_count() > 0)
    throw Error(path + ": not a TensorProto (a sequence, optional or map value?), which calibr8 does not support");
  try {
    return tensor_from_proto(tp, dirname_of(path));
  } catch (const std::exception& e) {
    throw Error(path + ": " + one_line(e.what()));
  }
}

std::string import_warnings(const Graph& g) {
  auto it = g.metadata.find("c8.warnings");
  return it == g.metadata.end() ? std::string() : it->second;
}

}  // namespace c8
