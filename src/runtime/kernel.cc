#include <chrono>
#include "runtime/kernel.h"

#include <algorithm>
#include <map>

namespace c8 {

dnnl::memory::data_type to_dnnl(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::F32: return dt::f32;
    case DType::F16: return dt::f16;
    case DType::BF16: return dt::bf16;
    case DType::I32: return dt::s32;
    case DType::I8: return dt::s8;
    case DType::U8: return dt::u8;
    default: return dt::undef;
  }
}

bool cpu_has_vnni() {
  auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

bool cpu_isa_at_least(dnnl::cpu_isa isa) {
  const unsigned eff = unsigned(dnnl::get_effective_cpu_isa()), want = unsigned(isa);
  return (eff & want) == want;
}

bool cpu_has_avx512_vnni() {
  return cpu_isa_at_least(dnnl::cpu_isa::avx512_core_vnni) && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

bool dnnl_supports(DType t) { return to_dnnl(t) != dnnl::memory::data_type::undef; }

dnnl::memory::desc plain_md(DType t, const Shape& s) {
  dnnl::memory::dims dims(s.begin(), s.end());
  if (dims.empty()) dims = {1};
  dnnl::memory::dims strides(dims.size(), 1);
  for (int i = int(dims.size()) - 2; i >= 0; --i) strides[size_t(i)] = strides[size_t(i) + 1] * std::max<int64_t>(dims[size_t(i) + 1], 1);
  auto dt = to_dnnl(t);
  if (dt == dnnl::memory::data_type::undef) dt = dnnl::memory::data_type::u8;  // placeholder; never used by oneDNN
  return dnnl::memory::desc(dims, dt, strides);
}

bool is_plain_md(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return false;
  if (d.format_desc.blocking.inner_nblks != 0) return false;
  // Row-major up to dimensions of size 1 (whose stride does not matter).
  int64_t expect = 1;
  for (int i = d.ndims - 1; i >= 0; --i) {
    if (d.dims[i] == 1) continue;
    if (d.format_desc.blocking.strides[i] != expect) return false;
    expect *= d.dims[i];
  }
  return d.offset0 == 0;
}

namespace {
std::map<std::string, std::vector<FastKernel>>& fast_table() {
  static std::map<std::string, std::vector<FastKernel>> t;
  return t;
}
}  // namespace

void register_fast_kernel(const std::string& op, int priority, const std::string& name, KernelFactory f) {
  auto& v = fast_table()[op];
  v.push_back({priority, name, std::move(f)});
  std::stable_sort(v.begin(), v.end(), [](const FastKernel& a, const FastKernel& b) { return a.priority > b.priority; });
}

std::vector<const FastKernel*> fast_kernels_for(const std::string& op) {
  std::vector<const FastKernel*> r;
  auto it = fast_table().find(op);
  if (it != fast_table().end())
    for (auto& e : it->second) r.push_back(&e);
  return r;
}

LayoutAdapter::LayoutAdapter(const dnnl::engine& eng, const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  needed_ = from != to;
  if (!needed_) return;
  prim_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to));
  dst_ = dnnl::memory(to, eng);
}

namespace {
thread_local double* reorder_timer = nullptr;
}

void set_reorder_timer(double* acc_ms) { reorder_timer = acc_ms; }

dnnl::memory LayoutAdapter::convert(dnnl::stream& s, const dnnl::memory& src) {
  if (!needed_) return src;
  if (reorder_timer) {
    const auto t0 = std::chrono::steady_clock::now();
    prim_.execute(s, const_cast<dnnl::memory&>(src), dst_);
    s.wait();
    *reorder_timer += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  } else {
    prim_.execute(s, const_cast<dnnl::memory&>(src), dst_);
  }
  return dst_;
}

}  // namespace c8
