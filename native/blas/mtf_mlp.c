/*
 * mtf_mlp: the building blocks of the fused training steps (declared in mtf_mlp.h). The forward pass and
 * its gradient follow kernels.ts's dense op and its tfjs gradient, sgemm call for sgemm call.
 */
#include "mtf_mlp.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* a per-thread arena: the step's activations and gradients; one block after the first step */

typedef struct block {
  struct block *next;
  size_t cap, used;
} block_t;
static __thread block_t *arena = NULL;
static __thread size_t arena_total = 0;

static void *aalloc(size_t bytes) {
  bytes = (bytes + 63) & ~(size_t)63;
  if (!arena || arena->used + bytes > arena->cap) {
    size_t cap = bytes > ((size_t)8 << 20) ? bytes : ((size_t)8 << 20);
    block_t *b = aligned_alloc(64, 64 + cap);
    if (!b) return NULL;
    b->next = arena;
    b->cap = cap;
    b->used = 0;
    arena = b;
  }
  void *p = (char *)arena + 64 + arena->used;
  arena->used += bytes;
  arena_total += bytes;
  return p;
}

/* Before a step: when the last step spilled over several blocks, replace them by one that holds it all. */
void arena_reset(void) {
  if (arena && arena->next) {
    size_t need = arena_total;
    while (arena) {
      block_t *n = arena->next;
      free(arena);
      arena = n;
    }
    block_t *b = aligned_alloc(64, 64 + ((need + 63) & ~(size_t)63));
    if (b) {
      b->next = NULL;
      b->cap = (need + 63) & ~(size_t)63;
      b->used = 0;
      arena = b;
    }
  } else if (arena) {
    arena->used = 0;
  }
  arena_total = 0;
}

/* Set when an allocation failed: every caller checks it before touching what it allocated, and the step
 * throws (the run stops; networks already updated in this step keep their update). */
__thread int mtf_oom = 0;
float *falloc(size_t n) {
  float *p = aalloc(n * sizeof(float));
  if (!p) {
    mtf_oom = 1;
    static __thread float dummy[1];
    return dummy;
  }
  return p;
}

/* ---------------------------------------------------------------------------------------------- */
/* MLPs: hidden layers ReLU, the last one `last`; input as column blocks */

static inline void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  p_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

static inline int act_of(const mlp_t *n, int l) { return l + 1 < n->nl ? ACT_RELU : n->last; }

/*
 * acts[l] = act(acts[l−1]·W_l + b_l), acts[−1] = [x_0 … x_{p−1}] (part i: M × k[i]). With rep0 > 1, part
 * 0 has M / rep0 rows, each standing for rep0 consecutive rows (s′ for Eq. 7's n samples): b + x_0·W_0
 * is formed once per distinct row and copied — the same float operations as on the repeated rows.
 */
void mlp_forward(const mlp_t *n, int M, int np, const float *const *x, const int *k, int rep0, float **acts) {
  for (int l = 0; l < n->nl; l++) {
    const int N = n->dims[l + 1];
    float *y = acts[l] = falloc((size_t)M * N);
    if (mtf_oom) return;
    if (l == 0) {
      size_t row = 0;
      int p = 0;
      if (rep0 > 1) {
        const int M0 = M / rep0;
        float *t = y + (size_t)(M - M0) * N; /* the last M0 rows as scratch: copied forward before overwritten */
        for (int i = 0; i < M0; i++) memcpy(t + (size_t)i * N, n->b[0], sizeof(float) * N);
        gemm(0, 0, M0, N, k[0], x[0], k[0], n->W[0], N, 1.0f, t, N);
        for (int i = 0; i < M0; i++)
          for (int j = 0; j < rep0; j++) {
            float *dst = y + ((size_t)i * rep0 + j) * N, *src = t + (size_t)i * N;
            if (dst != src) memmove(dst, src, sizeof(float) * N);
          }
        row = k[0];
        p = 1;
      } else {
        for (int i = 0; i < M; i++) memcpy(y + (size_t)i * N, n->b[0], sizeof(float) * N);
      }
      for (; p < np; p++) {
        gemm(0, 0, M, N, k[p], x[p], k[p], n->W[0] + row * N, N, 1.0f, y, N);
        row += k[p];
      }
    } else {
      for (int i = 0; i < M; i++) memcpy(y + (size_t)i * N, n->b[l], sizeof(float) * N);
      gemm(0, 0, M, N, n->dims[l], acts[l - 1], n->dims[l], n->W[l], N, 1.0f, y, N);
    }
    const size_t sz = (size_t)M * N;
    const int act = act_of(n, l);
    if (act == ACT_RELU) {
      for (size_t i = 0; i < sz; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    } else if (act == ACT_TANH) {
      for (size_t i = 0; i < sz; i++) y[i] = mtf_tanh(y[i]);
    }
  }
}

/*
 * Backward from dy (M × dims[nl], the gradient of the output; overwritten). With `params`, the gradients
 * of W and b into gW/gb (allocated here); with dx_part ≥ 0, the gradient of input part dx_part into dx
 * (M × k[dx_part]). As kernels.ts's dense gradient: dz = dy ⊙ act′(y), db = Σ_rows dz, dW = xᵀ·dz
 * (per column block), dx = dz·Wᵀ.
 */
void mlp_backward(mlp_t *n, int M, int np, const float *const *x, const int *k, float **acts, float *dy, int params, int dx_part, float *dx) {
  float *g = dy;
  for (int l = n->nl - 1; l >= 0; l--) {
    const int N = n->dims[l + 1], K = n->dims[l];
    const int act = act_of(n, l);
    const float *y = acts[l];
    float *db = NULL;
    if (params) {
      db = n->gb[l] = falloc(N);
      n->gW[l] = falloc((size_t)K * N);
      if (mtf_oom) return;
      memset(db, 0, sizeof(float) * N);
    }
    for (int i = 0; i < M; i++) {
      float *gr = g + (size_t)i * N;
      const float *yr = y + (size_t)i * N;
      if (act == ACT_RELU) {
        for (int j = 0; j < N; j++) gr[j] = yr[j] > 0.0f ? gr[j] : 0.0f;
      } else if (act == ACT_TANH) {
        for (int j = 0; j < N; j++) gr[j] = gr[j] * (1.0f - yr[j] * yr[j]);
      }
      if (db) for (int j = 0; j < N; j++) db[j] += gr[j];
    }
    if (params) {
      if (l == 0) {
        size_t row = 0;
        for (int p = 0; p < np; p++) {
          gemm(1, 0, k[p], N, M, x[p], k[p], g, N, 0.0f, n->gW[0] + row * N, N);
          row += k[p];
        }
      } else {
        gemm(1, 0, K, N, M, acts[l - 1], K, g, N, 0.0f, n->gW[l], N);
      }
    }
    if (l > 0) {
      float *gp = falloc((size_t)M * K);
      if (mtf_oom) return;
      gemm(0, 1, M, K, N, g, N, n->W[l], N, 0.0f, gp, K);
      g = gp;
    } else if (dx_part >= 0) {
      size_t row = 0;
      for (int p = 0; p < dx_part; p++) row += k[p];
      gemm(0, 1, M, k[dx_part], N, g, N, n->W[0] + row * N, N, 0.0f, dx, k[dx_part]);
    }
  }
}

adam_t adam_hyper(double lr, double b1, double b2, double eps, double t) {
  adam_t h;
  h.step = (float)(lr / (1.0 - pow(b1, t)));
  h.inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
  h.b1 = (float)b1;
  h.b2 = (float)b2;
  h.c1 = (float)(1.0 - b1);
  h.c2 = (float)(1.0 - b2);
  h.eps = (float)eps;
  return h;
}

/* PyTorch's Adam in place (mtf_blas.c adam, same float operations). */
static void adam_update(float *p, const float *g, float *m, float *v, size_t n, const adam_t *h) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = h->b1 * m[i] + h->c1 * gi;
    const float vi = h->b2 * v[i] + h->c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - h->step * mi / (sqrtf(vi) * h->inv_sqrt_bc2 + h->eps);
  }
}

void mlp_adam(mlp_t *n, const adam_t *h) {
  for (int l = 0; l < n->nl; l++) {
    adam_update(n->W[l], n->gW[l], n->mW[l], n->vW[l], (size_t)n->dims[l] * n->dims[l + 1], h);
    adam_update(n->b[l], n->gb[l], n->mb[l], n->vb[l], (size_t)n->dims[l + 1], h);
  }
}

/* θ′ ← η·θ + (1−η)·θ′ (mtf_blas.c lerp) */
void mlp_lerp(mlp_t *target, const mlp_t *online, float eta) {
  const float keep = 1.0f - eta;
  for (int l = 0; l < online->nl; l++) {
    const size_t nw = (size_t)online->dims[l] * online->dims[l + 1], nb = online->dims[l + 1];
    for (size_t i = 0; i < nw; i++) target->W[l][i] = eta * online->W[l][i] + keep * target->W[l][i];
    for (size_t i = 0; i < nb; i++) target->b[l][i] = eta * online->b[l][i] + keep * target->b[l][i];
  }
}
