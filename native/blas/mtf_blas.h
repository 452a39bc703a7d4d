/* Shared between mtf_blas.c (the kernels tfjs calls one by one) and mtf_fused.c (a whole BCQ step). */
#ifndef MTF_BLAS_H
#define MTF_BLAS_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
/* cblas_sgemm of the OpenBLAS that init() opened (NULL before) */
extern sgemm_fn p_sgemm;

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_TANH = 2 };

/*
 * tanh in float32 for the layers' tanh activations, written so that gcc vectorises a loop of it (glibc's
 * tanhf is a scalar call through expm1f: 13 ns an element against 0.6 here, and 14% of a width-64 BCQ
 * step). Cephes's tanhf: an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above, with e^x by
 * Cody–Waite reduction and Cephes's expf polynomial. Measured against tanh in double over every float
 * in [0, 20] (odd by construction): at most 1.33 ulp off the correctly rounded value (tanhf: < 1).
 * NaN stays NaN; ±∞ gives ±1. Both the per-kernel path (mtf_blas.c) and the fused step use it.
 */
static inline float mtf_tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float z = x * x;
  const float small = __builtin_fmaf(
      __builtin_fmaf(__builtin_fmaf(__builtin_fmaf(__builtin_fmaf(-5.70498872745e-3f, z, 2.06390887954e-2f), z, -5.37397155531e-2f), z,
                                    1.33314422036e-1f), z, -3.33332819422e-1f) * z,
      x, x);
  /* e^{2|x|}, |x| clamped to 9.5 (tanh is 1 in float32 from 9.01 on) */
  const float t = 2.0f * (ax < 9.5f ? ax : 9.5f);
  const float n = (t * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
  float r = __builtin_fmaf(n, -0.693359375f, t);
  r = __builtin_fmaf(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  const int bits = ((int)n + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, 4);
  const float e = (__builtin_fmaf(p, r * r, r) + 1.0f) * scale;
  const float big = __builtin_copysignf(1.0f - 2.0f / (e + 1.0f), x);
  return ax < 0.625f ? small : (x == x ? big : x);
}

int get_f32(napi_env env, napi_value v, float **data, size_t *len);
double get_num(napi_env env, napi_value v);
int get_int(napi_env env, napi_value v);
/* the data of a typed array of type `want`; else a TypeError "<what>: expected …" and 0 */
int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len, const char *what);

napi_value BcqStep(napi_env env, napi_callback_info info);
napi_value SetZiggurat(napi_env env, napi_callback_info info);
napi_value FillNormal(napi_env env, napi_callback_info info);

#endif
