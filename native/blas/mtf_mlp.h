/*
 * The pieces the fused training steps are built from (mtf_mlp.c): a per-thread arena for a step's
 * activations, MLPs given as (W, b) arrays with their forward and backward passes as tfjs forms them
 * (kernels.ts's dense op and its gradient), Adam and the soft target update in place.
 */
#ifndef MTF_MLP_H
#define MTF_MLP_H
#include "mtf_blas.h"
#include <stddef.h>

#define MAXL 8

typedef struct {
  int nl;
  int dims[MAXL + 1]; /* dims[0] input width … dims[nl] output width */
  int last;
  float *W[MAXL], *b[MAXL];          /* W: dims[l] × dims[l+1] row-major, b: dims[l+1] */
  float *mW[MAXL], *vW[MAXL], *mb[MAXL], *vb[MAXL]; /* Adam moments (online networks only) */
  float *gW[MAXL], *gb[MAXL];        /* gradients (arena) */
} mlp_t;

typedef struct {
  float step, inv_sqrt_bc2, b1, b2, c1, c2, eps;
} adam_t;

/* Set when an arena allocation failed: every caller checks it before touching what it allocated. */
extern __thread int mtf_oom;
/* Before a step: the arena empty again (one block holding the last step's needs). */
void arena_reset(void);
/* n floats from the arena, 64-byte aligned; on failure sets mtf_oom and returns a dummy */
float *falloc(size_t n);

void mlp_forward(const mlp_t *n, int M, int np, const float *const *x, const int *k, int rep0, float **acts);
void mlp_backward(mlp_t *n, int M, int np, const float *const *x, const int *k, float **acts, float *dy, int params, int dx_part, float *dx);
adam_t adam_hyper(double lr, double b1, double b2, double eps, double t);
void mlp_adam(mlp_t *n, const adam_t *h);
void mlp_lerp(mlp_t *target, const mlp_t *online, float eta);

/* the C port of src/rl/rng.ts (mtf_rng.c): clip(N(0, 1)) draws advancing the Rng state words in place */
void fill_normal(int32_t *st, float *out, size_t n, double clip);
/* whether setZiggurat has handed over the tables */
int ziggurat_ready(void);

#endif
