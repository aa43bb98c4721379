// Training-mode BatchNorm2d + ELU(alpha = 1) in two passes forward and two backward, for float32 CPU tensors
// in channels-last or contiguous (NCHW) layout. Compiled on first use by gramlib.fused (torch.utils.cpp_extension).
//
// Why: a small SwiftNet has ~36 conv-BN-ELU nodes at 32 channels; eager PyTorch runs BatchNorm and ELU as
// separate kernels (about 8 passes over each feature map forward, 8 backward), which cost as much as the
// convolutions. Fusing them leaves 3 passes forward (statistics; normalise + ELU) and 2 backward.
//
// Forward:  mean, var over (N, H, W); y = elu(x * scale + shift), scale = w / sqrt(var + eps), shift = b - mean * scale.
// Backward: dz = dy * elu'(z) = dy * (y > 0 ? 1 : y + 1); dbias = sum dz; dweight = rstd * sum dz (x - mean);
//           dx = w rstd (dz - mean(dz) - (x - mean) rstd^2 mean(dz (x - mean))).
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using Vec = at::vec::Vectorized<float>;

bool channels_last(const at::Tensor& x) { return x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous(); }

void check(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == at::kFloat,
              "bn_elu: expected a 4-d float32 CPU tensor, got ", x.sizes(), " ", x.scalar_type(), " on ", x.device());
  TORCH_CHECK(x.is_contiguous() || x.is_contiguous(at::MemoryFormat::ChannelsLast), "bn_elu: x must be contiguous or channels-last");
}

// The layout as "rows" of `width` floats whose position j holds channel channel_of(j):
// channels-last: a tile of R whole pixels (width R * C, channel j % C); NCHW: one plane (width H * W, one channel).
struct Layout {
  bool cl; int64_t C, M, width, rows;
  explicit Layout(const at::Tensor& x) {
    cl = channels_last(x); C = x.size(1); M = x.numel() / C;
    if (cl) {
      // R: the most pixels per tile, up to 512 floats, that divide the M pixels into whole tiles. Not just 512 / C
      // or nothing: at 24 or 48 channels (Table 1's x0.75 and x1.5 models) 512 / C is 21 or 10, which divides no
      // batch of 128 x 2^k pixels, and one pixel per row (24 floats) made the kernel slower than eager BatchNorm + ELU
      int64_t R = std::max<int64_t>(1, 512 / C);
      while (M % R != 0) --R;
      width = R * C;
      rows = x.numel() / width;
    } else {
      width = x.size(2) * x.size(3); rows = x.size(0) * C;
    }
  }
  // per-position broadcast of a per-channel array, for channels-last rows
  std::vector<float> tile(const float* per_channel) const {
    std::vector<float> t(width);
    for (int64_t j = 0; j < width; ++j) t[j] = per_channel[j % C];
    return t;
  }
};

// Per-channel sums of f(row pointers, j) and g(...) over all elements, accumulated in float per row, in double across rows.
template <typename F>
void channel_sums(const Layout& L, F&& accumulate, double* s, double* q) {
  const int nt = at::get_num_threads();
  std::vector<double> S(nt * L.C, 0.0), Q(nt * L.C, 0.0);
  at::parallel_for(0, L.rows, 16, [&](int64_t rb, int64_t re) {
    const int t = at::get_thread_num();
    double* st = S.data() + t * L.C; double* qt = Q.data() + t * L.C;
    if (L.cl) {
      std::vector<float> fs(L.width), fq(L.width);
      for (int64_t r0 = rb; r0 < re; r0 += 64) {  // float partials over at most 64 rows, then into double
        std::fill(fs.begin(), fs.end(), 0.f); std::fill(fq.begin(), fq.end(), 0.f);
        for (int64_t r = r0; r < std::min(re, r0 + 64); ++r) accumulate(r, fs.data(), fq.data());
        for (int64_t j = 0; j < L.width; ++j) { st[j % L.C] += fs[j]; qt[j % L.C] += fq[j]; }
      }
    } else {
      for (int64_t r = rb; r < re; ++r) {
        float fs = 0.f, fq = 0.f;
        accumulate(r, &fs, &fq);
        st[r % L.C] += fs; qt[r % L.C] += fq;
      }
    }
  });
  for (int64_t c = 0; c < L.C; ++c) {
    s[c] = 0; q[c] = 0;
    for (int t = 0; t < nt; ++t) { s[c] += S[t * L.C + c]; q[c] += Q[t * L.C + c]; }
  }
}

inline Vec elu_vec(const Vec& z) {
  const Vec e = at::vec::minimum(z, Vec(0.f)).exp_u20() - Vec(1.f);
  // z where z > 0 or z is NaN: exp_u20 maps NaN to inf, so a NaN must not go through e
  return Vec::blendv(e, z, (z > Vec(0.f)) | z.isnan());
}
inline float elu_scalar(float z) { return z > 0.f ? z : std::exp(z) - 1.f; }
// ELU's derivative from its output y: 1 where y > 0, else y + 1 (<= 1 there), i.e. min(y + 1, 1); NaN stays NaN
// (at::vec::minimum propagates it; std::min(a, b) is `b < a ? b : a`, which returns a NaN a).
inline float elu_grad(float y) { return std::min(y + 1.f, 1.f); }
inline Vec elu_grad_vec(const Vec& y) { return at::vec::minimum(y + Vec(1.f), Vec(1.f)); }

// The backward loops are written with at::vec, not left to `#pragma omp simd`: GCC kept them scalar, with the
// derivative's data-dependent branch mispredicting on every other element, and the backward pass took 17x the
// forward's time (1 thread, 128x32x16x16: 13.7 against 0.78 ms), slower than eager BatchNorm + ELU (AMD EPYC,
// 2026-11-28; benchmarks/bn_elu_layer.py times the layer, README "Speed" has the figures).

// channels-last rows: fs[j] += dz, fq[j] += dz (x - m) for j < n, dz = d elu'(y), m per position
inline void grad_sums_tile(const float* d, const float* y, const float* x, const float* m, float* fs, float* fq, int64_t n) {
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size()) {
    const Vec dz = Vec::loadu(d + j) * elu_grad_vec(Vec::loadu(y + j));
    (Vec::loadu(fs + j) + dz).store(fs + j);
    at::vec::fmadd(dz, Vec::loadu(x + j) - Vec::loadu(m + j), Vec::loadu(fq + j)).store(fq + j);
  }
  for (; j < n; ++j) { const float dz = d[j] * elu_grad(y[j]); fs[j] += dz; fq[j] += dz * (x[j] - m[j]); }
}

// one NCHW plane of one channel (mean m): *fs = sum dz, *fq = sum dz (x - m)
inline void grad_sums_plane(const float* d, const float* y, const float* x, float m, float* fs, float* fq, int64_t n) {
  Vec va(0.f), vb(0.f); const Vec vm(m);
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size()) {
    const Vec dz = Vec::loadu(d + j) * elu_grad_vec(Vec::loadu(y + j));
    va = va + dz; vb = at::vec::fmadd(dz, Vec::loadu(x + j) - vm, vb);
  }
  float la[Vec::size()], lb[Vec::size()];
  va.store(la); vb.store(lb);
  float a = 0.f, b = 0.f;
  for (int k = 0; k < Vec::size(); ++k) { a += la[k]; b += lb[k]; }
  for (; j < n; ++j) { const float dz = d[j] * elu_grad(y[j]); a += dz; b += dz * (x[j] - m); }
  *fs = a; *fq = b;
}

// o[j] = A[j] dz + P[j] x[j] + K[j] for j < n (A, P, K per position)
inline void grad_input(const float* d, const float* y, const float* x, const float* A, const float* P, const float* K,
                       float* o, int64_t n) {
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size()) {
    const Vec dz = Vec::loadu(d + j) * elu_grad_vec(Vec::loadu(y + j));
    at::vec::fmadd(Vec::loadu(A + j), dz, at::vec::fmadd(Vec::loadu(P + j), Vec::loadu(x + j), Vec::loadu(K + j))).store(o + j);
  }
  for (; j < n; ++j) o[j] = A[j] * (d[j] * elu_grad(y[j])) + P[j] * x[j] + K[j];
}

// out[j] = elu(in[j] * a[j] + b[j]) for j < n (a, b per position)
inline void elu_affine(const float* in, const float* a, const float* b, float* out, int64_t n) {
  int64_t j = 0;
  for (; j + Vec::size() <= n; j += Vec::size())
    elu_vec(at::vec::fmadd(Vec::loadu(in + j), Vec::loadu(a + j), Vec::loadu(b + j))).store(out + j);
  for (; j < n; ++j) out[j] = elu_scalar(in[j] * a[j] + b[j]);
}

}  // namespace

// Returns y, batch mean, 1 / sqrt(var + eps); updates running_mean / running_var in place (unbiased variance).
std::vector<at::Tensor> forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                at::Tensor running_mean, at::Tensor running_var, double momentum, double eps) {
  check(x);
  const Layout L(x);
  TORCH_CHECK(L.M > 1, "bn_elu: expected more than 1 value per channel when training, got input size ", x.sizes());
  const float* px = x.data_ptr<float>();
  std::vector<double> s(L.C), q(L.C);
  channel_sums(L, [&](int64_t r, float* fs, float* fq) {
    const float* xr = px + r * L.width;
    if (L.cl) {
      #pragma omp simd
      for (int64_t j = 0; j < L.width; ++j) { fs[j] += xr[j]; fq[j] += xr[j] * xr[j]; }
    } else {
      float a = 0.f, b = 0.f;
      #pragma omp simd reduction(+:a, b)
      for (int64_t j = 0; j < L.width; ++j) { a += xr[j]; b += xr[j] * xr[j]; }
      *fs = a; *fq = b;
    }
  }, s.data(), q.data());

  auto opts = x.options();
  auto mean = at::empty({L.C}, opts), rstd = at::empty({L.C}, opts);
  std::vector<float> scale(L.C), shift(L.C);
  const float* w = weight.data_ptr<float>(); const float* b = bias.data_ptr<float>();
  float* rm = running_mean.data_ptr<float>(); float* rv = running_var.data_ptr<float>();
  const double unbiased = (double)L.M / (double)(L.M - 1);
  for (int64_t c = 0; c < L.C; ++c) {
    const double m = s[c] / L.M, v = std::max(0.0, q[c] / L.M - m * m);
    const float r = (float)(1.0 / std::sqrt(v + eps));
    mean.data_ptr<float>()[c] = (float)m; rstd.data_ptr<float>()[c] = r;
    scale[c] = w[c] * r; shift[c] = b[c] - (float)m * scale[c];
    rm[c] = (float)((1 - momentum) * rm[c] + momentum * m);
    rv[c] = (float)((1 - momentum) * rv[c] + momentum * v * unbiased);
  }

  auto y = at::empty_like(x);
  float* py = y.data_ptr<float>();
  if (L.cl) {
    const auto A = L.tile(scale.data()), B = L.tile(shift.data());
    at::parallel_for(0, L.rows, 16, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) elu_affine(px + r * L.width, A.data(), B.data(), py + r * L.width, L.width);
    });
  } else {
    at::parallel_for(0, L.rows, 1, [&](int64_t rb, int64_t re) {
      std::vector<float> A(L.width), B(L.width);
      int64_t filled = -1;
      for (int64_t r = rb; r < re; ++r) {
        const int64_t c = r % L.C;
        if (c != filled) { std::fill(A.begin(), A.end(), scale[c]); std::fill(B.begin(), B.end(), shift[c]); filled = c; }
        elu_affine(px + r * L.width, A.data(), B.data(), py + r * L.width, L.width);
      }
    });
  }
  return {y, mean, rstd};
}

// Returns dx, dweight, dbias.
std::vector<at::Tensor> backward(const at::Tensor& grad_y, const at::Tensor& x, const at::Tensor& y,
                                 const at::Tensor& mean, const at::Tensor& rstd, const at::Tensor& weight) {
  check(x);
  const Layout L(x);
  const auto dy = grad_y.contiguous(L.cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  const float* pd = dy.data_ptr<float>(); const float* px = x.data_ptr<float>(); const float* py = y.data_ptr<float>();
  const float* pm = mean.data_ptr<float>(); const float* pr = rstd.data_ptr<float>(); const float* w = weight.data_ptr<float>();
  const std::vector<float> meanT = L.cl ? L.tile(pm) : std::vector<float>();

  std::vector<double> s(L.C), q(L.C);  // sum dz, sum dz (x - mean)
  channel_sums(L, [&](int64_t r, float* fs, float* fq) {
    const float* d = pd + r * L.width; const float* xr = px + r * L.width; const float* yr = py + r * L.width;
    if (L.cl) grad_sums_tile(d, yr, xr, meanT.data(), fs, fq, L.width);
    else grad_sums_plane(d, yr, xr, pm[r % L.C], fs, fq, L.width);
  }, s.data(), q.data());

  auto opts = x.options();
  auto dweight = at::empty({L.C}, opts), dbias = at::empty({L.C}, opts);
  std::vector<float> a(L.C), p(L.C), k0(L.C);  // dx = a dz + p x + k0
  for (int64_t c = 0; c < L.C; ++c) {
    const double r = pr[c], k = q[c] * r * r / L.M, mdz = s[c] / L.M;
    a[c] = (float)(w[c] * r); p[c] = (float)(-a[c] * k); k0[c] = (float)(a[c] * (k * pm[c] - mdz));
    dweight.data_ptr<float>()[c] = (float)(q[c] * r); dbias.data_ptr<float>()[c] = (float)s[c];
  }

  auto dx = at::empty_like(x);
  float* po = dx.data_ptr<float>();
  auto body = [&](int64_t r, const float* A, const float* P, const float* K) {
    const float* d = pd + r * L.width; const float* xr = px + r * L.width; const float* yr = py + r * L.width;
    grad_input(d, yr, xr, A, P, K, po + r * L.width, L.width);
  };
  if (L.cl) {
    const auto A = L.tile(a.data()), P = L.tile(p.data()), K = L.tile(k0.data());
    at::parallel_for(0, L.rows, 16, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) body(r, A.data(), P.data(), K.data());
    });
  } else {
    at::parallel_for(0, L.rows, 1, [&](int64_t rb, int64_t re) {
      std::vector<float> A(L.width), P(L.width), K(L.width);
      int64_t filled = -1;
      for (int64_t r = rb; r < re; ++r) {
        const int64_t c = r % L.C;
        if (c != filled) {
          std::fill(A.begin(), A.end(), a[c]); std::fill(P.begin(), P.end(), p[c]); std::fill(K.begin(), K.end(), k0[c]);
          filled = c;
        }
        body(r, A.data(), P.data(), K.data());
      }
    });
  }
  return {dx, dweight, dbias};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "BatchNorm (training) + ELU forward");
  m.def("backward", &backward, "BatchNorm (training) + ELU backward");
}
