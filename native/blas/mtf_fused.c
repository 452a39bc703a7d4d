/*
 * mtf_fused: one BCQ training step (BatchRL-MTF Algorithm 1, as src/rl/bcq.ts `Bcq.step` writes it with
 * tfjs) in one native call: forward and backward passes of the VAE, the target of Eq. (7), the twin
 * critics and the perturbation network written out by hand, Adam and the soft target update in place.
 *
 * Why: at hidden width 64 the tfjs step is ~400 kernel calls whose per-call overhead (dispatch, tensor
 * bookkeeping, allocation) outweighs their arithmetic; here the step is ~60 sgemm calls and a few loops
 * over the activations, nothing allocated after the first step (a per-thread arena is reused).
 *
 * The arithmetic follows the tfjs graph operation for operation — the same sgemm calls with the same
 * shapes and transposes (each dense layer's input as column blocks, bias first then the blocks, as
 * mtf_blas.c denseForward), the gradients of tfjs's ops in float32 in the order tfjs forms them — so
 * the two paths agree to float rounding (sums of the losses are taken in double here, in tfjs's JS loops
 * too, in a different order). test/rl/fused.test.ts states the tolerance it holds.
 *
 * The caller (src/rl/fusedBcq.ts) hands over the backing arrays of the tf.Variables, made private to
 * each variable, the minibatch as tfjs would see it and the run's RNG state (the step draws from it in C,
 * mtf_rng.c); nothing is kept past the call. The MLP passes, the arena and Adam are in mtf_mlp.c.
 */
#include "mtf_mlp.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* argument unpacking */

typedef struct {
  napi_env env;
  napi_value list;
  uint32_t at, count;
  const char *what;
  int failed;
} cursor_t;

static float *take(cursor_t *c, size_t want, int optional) {
  if (c->failed) return NULL;
  if (c->at >= c->count) {
    char msg[160];
    snprintf(msg, sizeof msg, "mtf_fused.bcqStep: %s has %u arrays, more expected", c->what, c->count);
    napi_throw_range_error(c->env, NULL, msg);
    c->failed = 1;
    return NULL;
  }
  napi_value v;
  float *p;
  size_t len;
  if (napi_get_element(c->env, c->list, c->at, &v) != napi_ok || !get_f32(c->env, v, &p, &len)) {
    c->failed = 1;
    return NULL;
  }
  if (!(len == want || (optional && len == 0))) {
    char msg[200];
    snprintf(msg, sizeof msg, "mtf_fused.bcqStep: %s[%u] has %zu values, expected %zu", c->what, c->at, len, want);
    napi_throw_range_error(c->env, NULL, msg);
    c->failed = 1;
    return NULL;
  }
  c->at++;
  return len ? p : NULL;
}

static void take_mlp(cursor_t *c, mlp_t *n) {
  for (int l = 0; l < n->nl; l++) {
    n->W[l] = take(c, (size_t)n->dims[l] * n->dims[l + 1], 0);
    n->b[l] = take(c, (size_t)n->dims[l + 1], 0);
  }
}

/* Adam's m for every variable of the networks, then v (the order of Adam.m / Adam.v in adam.ts) */
static void take_moments(cursor_t *c, mlp_t **nets, int count) {
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < count; i++)
      for (int l = 0; l < nets[i]->nl; l++) {
        float **w = pass ? nets[i]->vW : nets[i]->mW, **b = pass ? nets[i]->vb : nets[i]->mb;
        w[l] = take(c, (size_t)nets[i]->dims[l] * nets[i]->dims[l + 1], 0);
        b[l] = take(c, (size_t)nets[i]->dims[l + 1], 0);
      }
}

static int read_dims(const int32_t *d, size_t len, size_t *at, mlp_t *n, int last) {
  if (*at >= len) return 0;
  n->nl = d[(*at)++];
  if (n->nl < 1 || n->nl > MAXL || *at + n->nl + 1 > len) return 0;
  for (int l = 0; l <= n->nl; l++) {
    n->dims[l] = d[(*at)++];
    if (n->dims[l] <= 0) return 0;
  }
  n->last = last;
  return 1;
}


static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/*
 * bcqStep(params: Float32Array[], dims: Int32Array, hyper: Float64Array, batch: Float32Array[], stats: Float64Array,
 *         rng: Int32Array)
 *
 * dims:  [S, A, L, B, n, flags, encoder layers…, decoder layers…, P layers…, Q layers…], each network
 *        as its layer count then its widths (input … output); flags: 1 = soft-update the targets after
 *        this step, 2 = batch carries the n-step discount column, 4 = batch carries the VAE's
 *        reconstruction weights.
 * hyper: [klWeight, logStdMin, logStdMax, rho, lambda, gamma, eta, lrG, lrP, lrQ, beta1, beta2, eps, tG, tP, tQ,
 *        zClip] (t: the 1-based Adam step of each optimiser).
 * params: W, b of every layer of: encoder, mean head, logStd head, decoder (G); P; P′; Q1; Q2; Q1′; Q2′;
 *        then Adam m of G's variables, v of G's, m of P's, v of P's, m of Q1 and Q2's, v of Q1 and Q2's.
 * batch: s [B×S], a [B×A], r [B], notDone [B], mask [B], discount [B] or empty, s′
 *        [B×S] (each row stands for n rows in Eq. 7), reconstruction weights [A] or empty.
 * rng: the run's Rng state words (rng.ts), advanced in place by the step's draws, in the tfjs step's order:
 *        ε [B×L] (Eq. 3's reparameterisation), z′ [B·n×L] (Eq. 7, clipped), z [B×L] (the actor's, clipped).
 * stats (out): [lossG, recon, kl, lossQ, lossP, mean Q1, sd Q1, mean y].
 */
napi_value BcqStep(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_error(env, NULL, "mtf_fused.bcqStep: expected 6 arguments");
    return NULL;
  }
  if (!p_sgemm) {
    napi_throw_error(env, NULL, "mtf_fused.bcqStep: init() has not opened a BLAS library");
    return NULL;
  }
  int32_t *d;
  double *hy, *stats;
  size_t ld, lh, ls;
  int32_t *rngState;
  size_t lr;
  if (!get_typed(env, a[1], napi_int32_array, (void **)&d, &ld, "mtf_fused.bcqStep: dims") ||
      !get_typed(env, a[2], napi_float64_array, (void **)&hy, &lh, "mtf_fused.bcqStep: hyper") ||
      !get_typed(env, a[4], napi_float64_array, (void **)&stats, &ls, "mtf_fused.bcqStep: stats") ||
      !get_typed(env, a[5], napi_int32_array, (void **)&rngState, &lr, "mtf_fused.bcqStep: rng"))
    return NULL;
  if (lh < 17 || ls < 8) {
    napi_throw_type_error(env, NULL, lh < 17 ? "mtf_fused.bcqStep: hyper must be a Float64Array of 17" : "mtf_fused.bcqStep: stats must be a Float64Array of 8");
    return NULL;
  }
  if (lr != 4 || !ziggurat_ready()) {
    napi_throw_error(env, NULL, lr != 4 ? "mtf_fused.bcqStep: rng state of 4 words expected" : "mtf_fused.bcqStep: setZiggurat first");
    return NULL;
  }
  if (ld < 6) {
    napi_throw_range_error(env, NULL, "mtf_fused.bcqStep: dims too short");
    return NULL;
  }
  const int S = d[0], A = d[1], L = d[2], B = d[3], n = d[4], flags = d[5];
  const int Bn = B * n;
  mlp_t enc, mean, logstd, dec, P, PT, Q1, Q2, Q1T, Q2T;
  memset(&enc, 0, sizeof enc);
  size_t at = 6;
  if (!read_dims(d, ld, &at, &enc, ACT_RELU) || !read_dims(d, ld, &at, &dec, ACT_TANH) || !read_dims(d, ld, &at, &P, ACT_TANH) ||
      !read_dims(d, ld, &at, &Q1, ACT_LINEAR) || enc.dims[0] != S + A || dec.dims[0] != S + L || dec.dims[dec.nl] != A ||
      P.dims[0] != S + A || P.dims[P.nl] != A || Q1.dims[0] != S + A || Q1.dims[Q1.nl] != 1 || B <= 0 || n <= 0) {
    napi_throw_range_error(env, NULL, "mtf_fused.bcqStep: inconsistent network dims");
    return NULL;
  }
  const int H = enc.dims[enc.nl];
  memset(&mean, 0, sizeof mean);
  mean.nl = 1;
  mean.dims[0] = H;
  mean.dims[1] = L;
  mean.last = ACT_LINEAR;
  logstd = mean;
  PT = P;
  Q2 = Q1;
  Q1T = Q1;
  Q2T = Q1;

  cursor_t c = {env, a[0], 0, 0, "params", 0};
  napi_get_array_length(env, a[0], &c.count);
  take_mlp(&c, &enc);
  take_mlp(&c, &mean);
  take_mlp(&c, &logstd);
  take_mlp(&c, &dec);
  take_mlp(&c, &P);
  take_mlp(&c, &PT);
  take_mlp(&c, &Q1);
  take_mlp(&c, &Q2);
  take_mlp(&c, &Q1T);
  take_mlp(&c, &Q2T);
  mlp_t *G[] = {&enc, &mean, &logstd, &dec}, *Pp[] = {&P}, *Q[] = {&Q1, &Q2};
  take_moments(&c, G, 4);
  take_moments(&c, Pp, 1);
  take_moments(&c, Q, 2);
  if (!c.failed && c.at != c.count) {
    napi_throw_range_error(env, NULL, "mtf_fused.bcqStep: params has more arrays than the networks");
    return NULL;
  }
  cursor_t bc = {env, a[3], 0, 0, "batch", c.failed};
  napi_get_array_length(env, a[3], &bc.count);
  const float *s = take(&bc, (size_t)B * S, 0), *act = take(&bc, (size_t)B * A, 0), *r = take(&bc, B, 0);
  const float *notDone = take(&bc, B, 0), *mask = take(&bc, B, 0), *discount = take(&bc, B, !(flags & 2));
  const float *s2 = take(&bc, (size_t)B * S, 0), *reconW = take(&bc, A, !(flags & 4));
  if (bc.failed) return NULL;

  const float klw = (float)hy[0], lsMin = (float)hy[1], lsMax = (float)hy[2], rho = (float)hy[3];
  const double lambda = hy[4];
  const float gamma = (float)hy[5], eta = (float)hy[6];
  const adam_t hG = adam_hyper(hy[7], hy[10], hy[11], hy[12], hy[13]);
  const adam_t hP = adam_hyper(hy[8], hy[10], hy[11], hy[12], hy[14]);
  const adam_t hQ = adam_hyper(hy[9], hy[10], hy[11], hy[12], hy[15]);

  arena_reset();
  mtf_oom = 0;
#define BAIL()                                                                            \
  do {                                                                                    \
    if (mtf_oom) {                                                                            \
      napi_throw_error(env, NULL, "mtf_fused.bcqStep: out of memory for the activations"); \
      return NULL;                                                                        \
    }                                                                                     \
  } while (0)

  float *eps = falloc((size_t)B * L), *zNext = falloc((size_t)Bn * L), *zActor = falloc((size_t)B * L);
  BAIL();
  fill_normal(rngState, eps, (size_t)B * L, INFINITY);
  fill_normal(rngState, zNext, (size_t)Bn * L, hy[16]);
  fill_normal(rngState, zActor, (size_t)B * L, hy[16]);

  /* 1. The generative model on Eq. (3) (networks/vae.ts vaeLoss). */
  float *aE[MAXL], *aMu[1], *aLs[1], *aD[MAXL];
  const float *sa[2] = {s, act};
  const int ksa[2] = {S, A};
  mlp_forward(&enc, B, 2, sa, ksa, 1, aE);
  BAIL();
  const float *h = aE[enc.nl - 1];
  const int kh[1] = {H};
  mlp_forward(&mean, B, 1, &h, kh, 1, aMu);
  mlp_forward(&logstd, B, 1, &h, kh, 1, aLs);
  const size_t BL = (size_t)B * L, BA = (size_t)B * A;
  float *sigma = falloc(BL), *z = falloc(BL);
  BAIL();
  const float *mu = aMu[0], *lsRaw = aLs[0];
  double klSum = 0;
  for (size_t i = 0; i < BL; i++) {
    const float ls = clampf(lsRaw[i], lsMin, lsMax);
    sigma[i] = expf(ls);
    z[i] = mu[i] + sigma[i] * eps[i];
    klSum += (double)((1.0f + 2.0f * ls) - (mu[i] * mu[i] + sigma[i] * sigma[i]));
  }
  const float *sz[2] = {s, z};
  const int ksz[2] = {S, L};
  mlp_forward(&dec, B, 2, sz, ksz, 1, aD);
  BAIL();
  const float *aHat = aD[dec.nl - 1];
  float *dA = falloc(BA), *dz = falloc(BL);
  BAIL();
  const float invBA = 1.0f / (float)BA;
  double reconSum = 0;
  for (int i = 0; i < B; i++)
    for (int j = 0; j < A; j++) {
      const size_t k = (size_t)i * A + j;
      const float diff = aHat[k] - act[k];
      const float w = reconW ? reconW[j] : 1.0f;
      reconSum += (double)(reconW ? diff * diff * w : diff * diff);
      dA[k] = (invBA * w) * (2.0f * diff);
    }
  const float recon = (float)(reconSum / (double)BA);
  const float kl = (float)(-0.5 * (klSum / (double)BL));
  mlp_backward(&dec, B, 2, sz, ksz, aD, dA, 1, 1, dz);
  BAIL();
  /* kl = −½·mean(X), X = (1 + 2·log σ) − (μ² + σ²): ∂/∂X = −½·klWeight / (B·L) */
  const float dX = (klw * -0.5f) / (float)BL;
  float *dMu = falloc(BL), *dLs = falloc(BL);
  BAIL();
  for (size_t i = 0; i < BL; i++) {
    dMu[i] = dz[i] + (-dX) * (mu[i] * 2.0f);
    const float dSigma = dz[i] * eps[i] + (-dX) * (sigma[i] * 2.0f);
    const float g = dSigma * sigma[i] + dX * 2.0f;
    dLs[i] = (lsRaw[i] >= lsMin && lsRaw[i] <= lsMax) ? g : 0.0f;
  }
  float *dh1 = falloc((size_t)B * H), *dh2 = falloc((size_t)B * H);
  BAIL();
  mlp_backward(&mean, B, 1, &h, kh, aMu, dMu, 1, 0, dh1);
  mlp_backward(&logstd, B, 1, &h, kh, aLs, dLs, 1, 0, dh2);
  BAIL();
  for (size_t i = 0; i < (size_t)B * H; i++) dh1[i] += dh2[i];
  mlp_backward(&enc, B, 2, sa, ksa, aE, dh1, 1, -1, NULL);
  BAIL();
  for (int i = 0; i < 4; i++) mlp_adam(G[i], &hG);
  const float lossG = recon + klw * kl;

  /* 2. The target of Eq. (7) with the updated decoder (bcq.ts computeTarget), no gradient. */
  float *tD[MAXL], *tP[MAXL], *tQ1[MAXL], *tQ2[MAXL];
  const float *s2z[2] = {s2, zNext};
  mlp_forward(&dec, Bn, 2, s2z, ksz, n, tD);
  BAIL();
  const float *aDn = tD[dec.nl - 1];
  const float *s2a[2] = {s2, aDn};
  mlp_forward(&PT, Bn, 2, s2a, ksa, n, tP);
  BAIL();
  const float *xiN = tP[PT.nl - 1];
  float *aN = falloc((size_t)Bn * A), *y = falloc(B);
  BAIL();
  for (size_t i = 0; i < (size_t)Bn * A; i++) aN[i] = clampf(aDn[i] + rho * xiN[i], -1.0f, 1.0f);
  const float *s2n[2] = {s2, aN};
  mlp_forward(&Q1T, Bn, 2, s2n, ksa, n, tQ1);
  mlp_forward(&Q2T, Bn, 2, s2n, ksa, n, tQ2);
  BAIL();
  const float *q1n = tQ1[Q1T.nl - 1], *q2n = tQ2[Q2T.nl - 1];
  const float lamF = (float)lambda, lamC = (float)(1.0 - lambda);
  double ySum = 0;
  for (int i = 0; i < B; i++) {
    float best = -INFINITY;
    for (int j = 0; j < n; j++) {
      const size_t k = (size_t)i * n + j;
      const float mn = q1n[k] < q2n[k] ? q1n[k] : q2n[k];
      float cq = mn;
      if (lambda != 1) {
        const float mx = q1n[k] > q2n[k] ? q1n[k] : q2n[k];
        cq = lamF * mn + lamC * mx;
      }
      if (cq > best || j == 0) best = cq;
    }
    y[i] = discount ? r[i] + discount[i] * best : r[i] + gamma * (notDone[i] * best);
    ySum += y[i];
  }

  /* 3. The twin critics on y (bcq.ts computeCriticLoss). */
  float *c1[MAXL], *c2[MAXL];
  mlp_forward(&Q1, B, 2, sa, ksa, 1, c1);
  mlp_forward(&Q2, B, 2, sa, ksa, 1, c2);
  BAIL();
  const float *q1 = c1[Q1.nl - 1], *q2 = c2[Q2.nl - 1];
  double maskSum = 0, seSum = 0, q1Sum = 0;
  for (int i = 0; i < B; i++) maskSum += mask[i];
  const float rows = maskSum > 1 ? (float)maskSum : 1.0f;
  const float dSum = 1.0f / rows;
  float *dq1 = falloc(B), *dq2 = falloc(B);
  BAIL();
  for (int i = 0; i < B; i++) {
    const float e1 = q1[i] - y[i], e2 = q2[i] - y[i];
    seSum += (double)(mask[i] * (e1 * e1 + e2 * e2));
    q1Sum += q1[i];
    const float dse = dSum * mask[i];
    dq1[i] = dse * (2.0f * e1);
    dq2[i] = dse * (2.0f * e2);
  }
  const float qMean = (float)(q1Sum / B);
  double qVar = 0;
  for (int i = 0; i < B; i++) qVar += (double)(q1[i] - qMean) * (double)(q1[i] - qMean);
  mlp_backward(&Q1, B, 2, sa, ksa, c1, dq1, 1, -1, NULL);
  mlp_backward(&Q2, B, 2, sa, ksa, c2, dq2, 1, -1, NULL);
  BAIL();
  mlp_adam(&Q1, &hQ);
  mlp_adam(&Q2, &hQ);

  /* 4. The perturbation network by DPG through the updated Q1, Eq. (5) (bcq.ts computeActorLoss). */
  float *gD[MAXL], *pA[MAXL], *qA[MAXL];
  const float *szA[2] = {s, zActor};
  mlp_forward(&dec, B, 2, szA, ksz, 1, gD);
  BAIL();
  const float *aG = gD[dec.nl - 1];
  const float *sg[2] = {s, aG};
  mlp_forward(&P, B, 2, sg, ksa, 1, pA);
  BAIL();
  const float *xi = pA[P.nl - 1];
  float *pre = falloc(BA), *ap = falloc(BA), *dap = falloc(BA), *dq = falloc(B);
  BAIL();
  for (size_t i = 0; i < BA; i++) {
    pre[i] = aG[i] + rho * xi[i];
    ap[i] = clampf(pre[i], -1.0f, 1.0f);
  }
  const float *sp[2] = {s, ap};
  mlp_forward(&Q1, B, 2, sp, ksa, 1, qA);
  BAIL();
  const float *qa = qA[Q1.nl - 1];
  double qaSum = 0;
  const float dMean = -(1.0f / (float)B);
  for (int i = 0; i < B; i++) {
    qaSum += qa[i];
    dq[i] = dMean;
  }
  mlp_backward(&Q1, B, 2, sp, ksa, qA, dq, 0, 1, dap);
  BAIL();
  for (size_t i = 0; i < BA; i++) dap[i] = (pre[i] >= -1.0f && pre[i] <= 1.0f) ? dap[i] * rho : 0.0f;
  mlp_backward(&P, B, 2, sg, ksa, pA, dap, 1, -1, NULL);
  BAIL();
  mlp_adam(&P, &hP);

  /* 5. Soft target updates (every L steps; the caller counts). */
  if (flags & 1) {
    mlp_lerp(&PT, &P, eta);
    mlp_lerp(&Q1T, &Q1, eta);
    mlp_lerp(&Q2T, &Q2, eta);
  }

  stats[0] = lossG;
  stats[1] = recon;
  stats[2] = kl;
  stats[3] = (float)(seSum / rows);
  stats[4] = (float)(-(qaSum / B));
  stats[5] = qMean;
  stats[6] = sqrtf((float)(qVar / B));
  stats[7] = (float)(ySum / B);
  return NULL;
}
