/*
 * mtf_blas: the few native kernels that let TensorFlow.js's CPU backend train BCQ at BLAS speed.
 *
 * - sgemm through OpenBLAS (cblas_sgemm), loaded with dlopen at init so that building needs no BLAS
 *   headers and a missing library is a clear message at run time, not a failed build;
 * - the elementwise work that sits around each matmul of a dense layer (bias + ReLU/tanh forward, the
 *   activation's derivative + bias gradient backward), fused so that large activations are walked once,
 *   and the layer's input given as column blocks ([s, a]) so that no concatenation is ever built;
 * - Adam and the soft target update, one pass per variable;
 * - the selection step of the exact nearest-neighbour search of the evaluation (knnSelect).
 * Every kernel writes into an output array the caller allocated; none keeps a pointer past its call.
 * - one whole BCQ training step in a single call (bcqStep, mtf_fused.c).
 * Built by src/rl/native.ts (or node-gyp with binding.gyp); loaded and wrapped there.
 */
#include "mtf_blas.h"
#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sgemm_fn p_sgemm = NULL;
static void (*p_set_threads)(int) = NULL;
static char *(*p_get_corename)(void) = NULL;
static char *(*p_get_config)(void) = NULL;
static char loaded_lib[512] = "";

#define CHECK(call)                                                                 \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      napi_throw_error(env, NULL, "mtf_blas: N-API call failed: " #call);           \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &off) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "mtf_blas: expected a Float32Array");
    return 0;
  }
  *data = (float *)p;
  return 1;
}

double get_num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

int get_int(napi_env env, napi_value v) {
  int32_t i = 0;
  napi_get_value_int32(env, v, &i);
  return i;
}

static int get_bool(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v);
  return v;
}

/* init(libs: string (colon-separated candidates), threads, dropCoretype, mmapThreshold)
 * → { lib, corename, config } or throws with the reason. */
static napi_value Init_(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char libs[2048];
  size_t n = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], libs, sizeof libs, &n));
  int threads = get_int(env, argv[1]);
  int drop_coretype = get_bool(env, argv[2]);
  int mmap_threshold = get_int(env, argv[3]);

  if (!p_sgemm) {
    /* glibc serves large blocks with fresh mmaps until its dynamic threshold has grown; every such
     * block costs a page fault per 4 KiB on first touch. Fix the threshold (as the PyTorch anchor does). */
    if (mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    /* OpenBLAS reads these once, when it loads. */
    if (drop_coretype) unsetenv("OPENBLAS_CORETYPE");
    char nt[16];
    snprintf(nt, sizeof nt, "%d", threads > 0 ? threads : 1);
    setenv("OPENBLAS_NUM_THREADS", nt, 1);

    char errors[4096] = "";
    char *save = NULL;
    for (char *lib = strtok_r(libs, ":", &save); lib; lib = strtok_r(NULL, ":", &save)) {
      void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        strncat(errors, dlerror(), sizeof errors - strlen(errors) - 3);
        strncat(errors, "; ", sizeof errors - strlen(errors) - 1);
        continue;
      }
      sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
      if (!f) {
        strncat(errors, lib, sizeof errors - strlen(errors) - 30);
        strncat(errors, ": no cblas_sgemm; ", sizeof errors - strlen(errors) - 1);
        dlclose(h);
        continue;
      }
      p_sgemm = f;
      p_set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
      p_get_corename = (char *(*)(void))dlsym(h, "openblas_get_corename");
      p_get_config = (char *(*)(void))dlsym(h, "openblas_get_config");
      snprintf(loaded_lib, sizeof loaded_lib, "%s", lib);
      break;
    }
    if (!p_sgemm) {
      napi_throw_error(env, NULL, errors[0] ? errors : "no BLAS library candidates given");
      return NULL;
    }
  }
  if (p_set_threads && threads > 0) p_set_threads(threads);
  napi_value out;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_set_named_property(env, out, "lib", str(env, loaded_lib)));
  CHECK(napi_set_named_property(env, out, "corename", str(env, p_get_corename ? p_get_corename() : "")));
  CHECK(napi_set_named_property(env, out, "config", str(env, p_get_config ? p_get_config() : "")));
  return out;
}

/* sgemm(transA, transB, M, N, K, A, B, C, batch, strideA, strideB)
 * C[i] = op(A[i]) · op(B[i]) for i < batch, row-major; op(A) is M×K, op(B) is K×N, C is M×N.
 * strideA/strideB are the element strides between batch items (0 = broadcast). */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value a[11];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  int ta = get_bool(env, a[0]), tb = get_bool(env, a[1]);
  int M = get_int(env, a[2]), N = get_int(env, a[3]), K = get_int(env, a[4]);
  float *A, *B, *C;
  size_t la, lb, lc;
  if (!get_f32(env, a[5], &A, &la) || !get_f32(env, a[6], &B, &lb) || !get_f32(env, a[7], &C, &lc)) return NULL;
  int batch = get_int(env, a[8]), sa = get_int(env, a[9]), sb = get_int(env, a[10]);
  if ((size_t)M * N * batch > lc) {
    napi_throw_range_error(env, NULL, "mtf_blas.sgemm: output too small");
    return NULL;
  }
  for (int i = 0; i < batch; i++) {
    p_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
            A + (size_t)i * sa, ta ? M : K, B + (size_t)i * sb, tb ? K : N, 0.0f, C + (size_t)i * M * N, N);
  }
  return NULL;
}


/* denseForward(parts: Float32Array[], W, b, y, M, N, act): y = act([x_0 … x_{p−1}]·W + b).
 * The parts are the column blocks of the layer's input (e.g. [s, a]); part i is M×K_i and meets rows
 * K_0+…+K_{i−1} … of W (K×N, row-major), so the concatenated input is never built. b: N or empty. */
static napi_value DenseForward(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *W, *b, *y;
  size_t lw, lb, ly;
  if (!get_f32(env, a[1], &W, &lw) || !get_f32(env, a[2], &b, &lb) || !get_f32(env, a[3], &y, &ly)) return NULL;
  int M = get_int(env, a[4]), N = get_int(env, a[5]), act = get_int(env, a[6]);
  uint32_t nparts = 0;
  CHECK(napi_get_array_length(env, a[0], &nparts));
  if ((size_t)M * N > ly) {
    napi_throw_range_error(env, NULL, "mtf_blas.denseForward: output too small");
    return NULL;
  }
  int has_bias = lb >= (size_t)N && N > 0;
  if (has_bias) {
    /* y = 1·b on every row, then y += x_i·W_i: the bias costs one write pass, not another read. */
    for (int i = 0; i < M; i++) memcpy(y + (size_t)i * N, b, sizeof(float) * N);
  }
  size_t row = 0;
  for (uint32_t p = 0; p < nparts; p++) {
    napi_value part;
    float *x;
    size_t lx;
    CHECK(napi_get_element(env, a[0], p, &part));
    if (!get_f32(env, part, &x, &lx)) return NULL;
    int K = M > 0 ? (int)(lx / M) : 0;
    if ((row + K) * N > lw) {
      napi_throw_range_error(env, NULL, "mtf_blas.denseForward: input wider than W");
      return NULL;
    }
    float beta = (has_bias || p > 0) ? 1.0f : 0.0f;
    p_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, x, K, W + row * N, N, beta, y, N);
    row += K;
  }
  if (row * N != lw) {
    napi_throw_range_error(env, NULL, "mtf_blas.denseForward: inputs do not cover W");
    return NULL;
  }
  size_t n = (size_t)M * N;
  if (act == ACT_RELU) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
  } else if (act == ACT_TANH) {
    for (size_t i = 0; i < n; i++) y[i] = mtf_tanh(y[i]);
  }
  return NULL;
}

/* actGrad(dy, y, dz, db, M, N, act): dz = dy ⊙ act′ (from the output y); db = Σ_rows dz. */
static napi_value ActGrad(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *dy, *y, *dz, *db;
  size_t l1, l2, l3, l4;
  if (!get_f32(env, a[0], &dy, &l1) || !get_f32(env, a[1], &y, &l2) || !get_f32(env, a[2], &dz, &l3) ||
      !get_f32(env, a[3], &db, &l4))
    return NULL;
  int M = get_int(env, a[4]), N = get_int(env, a[5]), act = get_int(env, a[6]);
  if ((size_t)M * N > l1 || (size_t)M * N > l2 || (size_t)M * N > l3 || (size_t)N > l4) {
    napi_throw_range_error(env, NULL, "mtf_blas.actGrad: size mismatch");
    return NULL;
  }
  memset(db, 0, sizeof(float) * N);
  for (int i = 0; i < M; i++) {
    const float *dyr = dy + (size_t)i * N, *yr = y + (size_t)i * N;
    float *dzr = dz + (size_t)i * N;
    if (act == ACT_RELU) {
      for (int j = 0; j < N; j++) {
        float g = yr[j] > 0.0f ? dyr[j] : 0.0f;
        dzr[j] = g;
        db[j] += g;
      }
    } else if (act == ACT_TANH) {
      for (int j = 0; j < N; j++) {
        float g = dyr[j] * (1.0f - yr[j] * yr[j]);
        dzr[j] = g;
        db[j] += g;
      }
    } else {
      for (int j = 0; j < N; j++) {
        dzr[j] = dyr[j];
        db[j] += dyr[j];
      }
    }
  }
  return NULL;
}

/* colSum(x, out, M, N): out = Σ_rows x. */
static napi_value ColSum(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *x, *o;
  size_t lx, lo;
  if (!get_f32(env, a[0], &x, &lx) || !get_f32(env, a[1], &o, &lo)) return NULL;
  int M = get_int(env, a[2]), N = get_int(env, a[3]);
  if ((size_t)M * N > lx || (size_t)N > lo) {
    napi_throw_range_error(env, NULL, "mtf_blas.colSum: size mismatch");
    return NULL;
  }
  memset(o, 0, sizeof(float) * N);
  for (int i = 0; i < M; i++) {
    const float *r = x + (size_t)i * N;
    for (int j = 0; j < N; j++) o[j] += r[j];
  }
  return NULL;
}

/* adam(p, g, m, v, pOut, mOut, vOut, lr, beta1, beta2, eps, t): PyTorch's Adam (no weight decay):
 * m' = β1·m + (1−β1)·g; v' = β2·v + (1−β2)·g²; p' = p − lr/(1−β1^t) · m' / (√v'/√(1−β2^t) + ε). */
static napi_value Adam(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value a[12];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *p, *g, *m, *v, *po, *mo, *vo;
  size_t n, l;
  if (!get_f32(env, a[0], &p, &n) || !get_f32(env, a[1], &g, &l) || !get_f32(env, a[2], &m, &l) ||
      !get_f32(env, a[3], &v, &l) || !get_f32(env, a[4], &po, &l) || !get_f32(env, a[5], &mo, &l) ||
      !get_f32(env, a[6], &vo, &l))
    return NULL;
  double lr = get_num(env, a[7]), b1 = get_num(env, a[8]), b2 = get_num(env, a[9]), eps = get_num(env, a[10]);
  double t = get_num(env, a[11]);
  const float c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2), fb1 = (float)b1, fb2 = (float)b2;
  const float step = (float)(lr / (1.0 - pow(b1, t)));
  const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
  const float feps = (float)eps;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = fb1 * m[i] + c1 * gi;
    float vi = fb2 * v[i] + c2 * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + feps);
  }
  return NULL;
}

/* lerp(target, online, out, eta): out = η·online + (1−η)·target (soft target update). */
static napi_value Lerp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *t, *o, *out;
  size_t n, l;
  if (!get_f32(env, a[0], &t, &n) || !get_f32(env, a[1], &o, &l) || !get_f32(env, a[2], &out, &l)) return NULL;
  const float eta = (float)get_num(env, a[3]), keep = 1.0f - eta;
  for (size_t i = 0; i < n; i++) out[i] = eta * o[i] + keep * t[i];
  return NULL;
}

int get_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len, const char *what) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != want) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: expected %s", what,
             want == napi_float64_array ? "a Float64Array" : want == napi_int32_array ? "an Int32Array" : "a typed array of another type");
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

typedef struct { double d; int j; } dj_t;
static int cmp_pair(const void *a, const void *b) {
  const dj_t *x = a, *y = b;
  if (x->d < y->d) return -1;
  if (x->d > y->d) return 1;
  return (x->j > y->j) - (x->j < y->j);
}
static inline int less_dj(const dj_t *x, const dj_t *y) { return x->d < y->d || (x->d == y->d && x->j < y->j); }

/* Moves the L smallest of p[0 … n) by (d, j) to p[0 … L) (quickselect, median of three). */
static void select_smallest(dj_t *p, int n, int L) {
  int lo = 0, hi = n - 1;
  while (hi > lo) {
    int mid = lo + (hi - lo) / 2;
    dj_t t;
    if (less_dj(&p[mid], &p[lo])) { t = p[mid]; p[mid] = p[lo]; p[lo] = t; }
    if (less_dj(&p[hi], &p[lo])) { t = p[hi]; p[hi] = p[lo]; p[lo] = t; }
    if (less_dj(&p[hi], &p[mid])) { t = p[hi]; p[hi] = p[mid]; p[mid] = t; }
    const dj_t pivot = p[mid];
    int i = lo, k = hi;
    while (i <= k) {
      while (less_dj(&p[i], &pivot)) i++;
      while (less_dj(&pivot, &p[k])) k--;
      if (i <= k) { t = p[i]; p[i] = p[k]; p[k] = t; i++; k--; }
    }
    if (L - 1 <= k) hi = k;
    else if (L - 1 >= i) lo = i;
    else return;
  }
}

/* knnSelect(G, m, nr, qn, rn, skip, L, outD, outJ): for each of the m rows of G (m × nr, the block's
 * q·r), the L smallest approximate squared distances qn[q] + rn[j] − 2·G[q, j] over j ≠ skip[q],
 * ascending by (distance, j), into outD/outJ [m × L] (j = −1, distance +∞ past the count) — the
 * selection behind src/ope/neighbours.ts knnGram, which re-ranks them exactly. Rows closer than the
 * current L-th are appended to a buffer of 4L that is cut back to its L smallest when full: an append is
 * cheap where a heap's sift mispredicts its branches. */
static napi_value KnnSelect(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *G;
  double *qn, *rn, *outD;
  int *skip, *outJ;
  size_t lg, lq, lr, ls, lod, loj;
  if (!get_f32(env, a[0], &G, &lg)) return NULL;
  const int m = get_int(env, a[1]), nr = get_int(env, a[2]);
  if (!get_typed(env, a[3], napi_float64_array, (void **)&qn, &lq, "mtf_blas.knnSelect qn") || !get_typed(env, a[4], napi_float64_array, (void **)&rn, &lr, "mtf_blas.knnSelect rn") ||
      !get_typed(env, a[5], napi_int32_array, (void **)&skip, &ls, "mtf_blas.knnSelect skip"))
    return NULL;
  const int L = get_int(env, a[6]);
  if (!get_typed(env, a[7], napi_float64_array, (void **)&outD, &lod, "mtf_blas.knnSelect outD") || !get_typed(env, a[8], napi_int32_array, (void **)&outJ, &loj, "mtf_blas.knnSelect outJ")) return NULL;
  if (L <= 0 || (size_t)m * nr > lg || (size_t)m > lq || (size_t)nr > lr || (size_t)m > ls || (size_t)m * L > lod || (size_t)m * L > loj) {
    napi_throw_range_error(env, NULL, "mtf_blas.knnSelect: array too small");
    return NULL;
  }
  const int cap = 4 * L;
  dj_t *buf = malloc(sizeof(dj_t) * cap);
  if (!buf) {
    napi_throw_error(env, NULL, "mtf_blas.knnSelect: out of memory");
    return NULL;
  }
  for (int q = 0; q < m; q++) {
    const float *g = G + (size_t)q * nr;
    const double qq = qn[q];
    const int sk = skip[q];
    int size = 0;
    /* the largest of the L kept: a later row (larger j) must be strictly closer to enter */
    double top = INFINITY;
    for (int j = 0; j < nr; j++) {
      const double d = qq + rn[j] - 2.0 * (double)g[j];
      if (d >= top || j == sk) continue;
      buf[size].d = d;
      buf[size].j = j;
      if (++size == cap) {
        select_smallest(buf, size, L);
        size = L;
        top = buf[0].d;
        for (int i = 1; i < L; i++) if (buf[i].d > top) top = buf[i].d;
      }
    }
    if (size > L) {
      select_smallest(buf, size, L);
      size = L;
    }
    qsort(buf, size, sizeof(dj_t), cmp_pair);
    for (int i = 0; i < L; i++) {
      outD[(size_t)q * L + i] = i < size ? buf[i].d : INFINITY;
      outJ[(size_t)q * L + i] = i < size ? buf[i].j : -1;
    }
  }
  free(buf);
  return NULL;
}

/* trimHeap(): glibc's malloc_trim(0) — hands the free memory of every malloc arena back to the system
 * (V8's array buffers come from malloc: after a stage's buffers are collected, their pages stay with the
 * process until trimmed). Returns whether any memory was released. */
static napi_value TrimHeap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) != 0, &out);
  return out;
}

static napi_value Register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, Init_, NULL, NULL, NULL, napi_default, NULL},
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"denseForward", NULL, DenseForward, NULL, NULL, NULL, napi_default, NULL},
      {"actGrad", NULL, ActGrad, NULL, NULL, NULL, napi_default, NULL},
      {"colSum", NULL, ColSum, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, Adam, NULL, NULL, NULL, napi_default, NULL},
      {"lerp", NULL, Lerp, NULL, NULL, NULL, napi_default, NULL},
      {"knnSelect", NULL, KnnSelect, NULL, NULL, NULL, napi_default, NULL},
      {"bcqStep", NULL, BcqStep, NULL, NULL, NULL, napi_default, NULL},
      {"setZiggurat", NULL, SetZiggurat, NULL, NULL, NULL, napi_default, NULL},
      {"fillNormal", NULL, FillNormal, NULL, NULL, NULL, napi_default, NULL},
      {"trimHeap", NULL, TrimHeap, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Register)
