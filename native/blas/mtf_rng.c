/*
 * mtf_rng: src/rl/rng.ts in C — xoshiro128** 1.1 and the ziggurat normals of Rng.fillNormal, value for
 * value (the same tables, handed over once by setZiggurat; the same double arithmetic, then float32).
 * test/rl/fused.test.ts compares 300,000 draws, tails and clipping included.
 */
#include "mtf_mlp.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static double zig_kn[128], zig_wn[128], zig_fn[128];
static int zig_ready = 0;

int ziggurat_ready(void) { return zig_ready; }
#define ZIG_R 3.442619855899

typedef struct {
  uint32_t s0, s1, s2, s3;
} xoshiro_t;

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static inline int32_t xo_next(xoshiro_t *x) {
  const uint32_t result = rotl32(x->s1 * 5u, 7) * 9u;
  const uint32_t t = x->s1 << 9;
  x->s2 ^= x->s0;
  x->s3 ^= x->s1;
  x->s1 ^= x->s2;
  x->s0 ^= x->s3;
  x->s2 ^= t;
  x->s3 = rotl32(x->s3, 11);
  return (int32_t)result;
}

static inline double xo_uniform(xoshiro_t *x) { return ((double)(uint32_t)xo_next(x) + 0.5) * (1.0 / 4294967296.0); }

static double normal_tail(xoshiro_t *x, int32_t hz, int iz) {
  for (;;) {
    if (iz == 0) {
      double a, b;
      do {
        a = -log(xo_uniform(x)) / ZIG_R;
        b = -log(xo_uniform(x));
      } while (b + b < a * a);
      return hz > 0 ? ZIG_R + a : -ZIG_R - a;
    }
    const double v = (double)hz * zig_wn[iz];
    if (zig_fn[iz] + xo_uniform(x) * (zig_fn[iz - 1] - zig_fn[iz]) < exp(-0.5 * v * v)) return v;
    hz = xo_next(x);
    iz = hz & 127;
    if (fabs((double)hz) < zig_kn[iz]) return (double)hz * zig_wn[iz];
  }
}

/* out[i] = clip(N(0, 1)) for i < n from the state words st (int32, as Rng keeps them), advanced in place */
void fill_normal(int32_t *st, float *out, size_t n, double clip) {
  xoshiro_t x = {(uint32_t)st[0], (uint32_t)st[1], (uint32_t)st[2], (uint32_t)st[3]};
  const double lo = -clip;
  for (size_t i = 0; i < n; i++) {
    const int32_t hz = xo_next(&x);
    const int iz = hz & 127;
    double v = fabs((double)hz) < zig_kn[iz] ? (double)hz * zig_wn[iz] : normal_tail(&x, hz, iz);
    v = v > lo ? v : lo;
    v = v < clip ? v : clip;
    out[i] = (float)v;
  }
  st[0] = (int32_t)x.s0;
  st[1] = (int32_t)x.s1;
  st[2] = (int32_t)x.s2;
  st[3] = (int32_t)x.s3;
}

/* setZiggurat(KN, WN, FN: Float64Array(128)): rng.ts's tables */
napi_value SetZiggurat(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  double *t[3];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return NULL;
  for (int i = 0; i < 3; i++) {
    if (!get_typed(env, a[i], napi_float64_array, (void **)&t[i], &len, "mtf_fused.setZiggurat")) return NULL;
    if (len != 128) {
      napi_throw_range_error(env, NULL, "mtf_fused.setZiggurat: tables of 128 expected");
      return NULL;
    }
  }
  memcpy(zig_kn, t[0], sizeof zig_kn);
  memcpy(zig_wn, t[1], sizeof zig_wn);
  memcpy(zig_fn, t[2], sizeof zig_fn);
  zig_ready = 1;
  return NULL;
}

/* fillNormal(state: Int32Array(4), out: Float32Array, clip: number): Rng.fillNormal(out, clip) */
napi_value FillNormal(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  int32_t *st;
  float *out;
  size_t ls, lo;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return NULL;
  if (!get_typed(env, a[0], napi_int32_array, (void **)&st, &ls, "mtf_fused.fillNormal state") || !get_f32(env, a[1], &out, &lo)) return NULL;
  if (ls != 4 || !zig_ready) {
    napi_throw_error(env, NULL, ls != 4 ? "mtf_fused.fillNormal: state of 4 words expected" : "mtf_fused.fillNormal: setZiggurat first");
    return NULL;
  }
  fill_normal(st, out, lo, get_num(env, a[2]));
  return NULL;
}
