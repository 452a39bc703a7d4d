/**
 * The contract of ope-report.json (zod is the source of truth; schemas/ope-report.schema.json is
 * rendered from it and a test fails on drift). Values are in reward units (r = Σ w_i·v_i) unless a
 * field says otherwise; V̂ is the expected discounted return from a session start.
 */
import { z } from 'zod';
import { OpeConfigSchema } from './config.ts';

export const OPE_REPORT_FORMAT = 'batchrl-mtf/ope-report@1';

const Pair = z.tuple([z.number(), z.number()]);
const Estimate = z.object({ mean: z.number(), ci95: Pair });

const ActionSummary = z
  .object({
    mean: z.array(z.number()),
    std: z.array(z.number()),
    p5: z.array(z.number()),
    p50: z.array(z.number()),
    p95: z.array(z.number()),
    histogram: z.array(z.array(z.number())).describe('per action dim: share of states in each bin of action_histogram_edges'),
  })
  .describe('distribution of α (logged units) on the evaluation states, per action dim')
  .meta({ id: 'OpeActionSummary' });

const Difference = z.object({
  abs: z.number().describe('V̂(policy) − V̂(reference)'),
  rel: z.number().nullable().describe('abs / |V̂(reference)| (null when V̂(reference) = 0)'),
  ci95: Pair.describe('paired bootstrap interval of abs (same session resamples)'),
  rel_ci95: Pair.nullable(),
});

const Ood = z
  .object({
    share: z.number().min(0).max(1).describe('share of sampled states whose action is far from every logged action at the k nearest states'),
    threshold: z.number().describe('far = farther than this (normalised action units), the oodQuantile of the logged actions\' own distance'),
    distance_p50: z.number(),
    distance_p95: z.number(),
    states: z.int(),
    neighbours: z.int(),
  })
  .describe('out-of-distribution indicator');

const Importance = z
  .object({
    pdwis: Estimate.describe('per-decision weighted importance sampling (kernel-smoothed π_e)'),
    wdr: Estimate.describe('weighted doubly robust, FQE\'s Q as the model'),
    bandwidth: z.array(z.number()).describe('kernel bandwidth per action dim, logged units'),
    horizon: z.int(),
    ess: z.array(z.number()).describe('effective sample size of the weights at each step'),
    observed: z.array(z.number()).describe('sessions observed at each step'),
  })
  .describe('importance-sampling estimates (only when action_logp is logged)');

const Comparison = z.enum(['better', 'indistinguishable', 'worse']);

const Flag = z
  .object({
    code: z.enum(['fqe_not_converged', 'fqe_curve_short', 'per_response_mismatch', 'few_refits', 'importance_degenerate', 'out_of_support', 'behavior_check']),
    message: z.string().describe('what fired, with the numbers'),
  })
  .describe('a diagnostic; src/ope/assess.ts FLAG_EXPLANATIONS says what each code means')
  .meta({ id: 'OpeFlag' });

const Curves = z.object({
  step: z.array(z.int()),
  td_loss: z.array(z.number()).describe('½·TD², scaled units, summed over heads, mean over the interval'),
  penalty: z.array(z.number()).describe('α·(E_π Q − E_D Q), scaled units, summed over heads'),
  v_hat: z.array(z.number()).describe('V̂ on the initial states at that step, reward units'),
});

const PerResponse = z.object({
  name: z.string().describe('feedback column'),
  weight: z.number().describe('its w_i in r = Σ w_i·v_i'),
  v_hat: z.number().describe('expected discounted sum of this response from a session start'),
  ci95: Pair,
});

export const OpePolicyResult = z.object({
  name: z.string(),
  source: z.string().describe('what was evaluated: behavior, const:…, a model file or checkpoint dir'),
  kind: z.enum(['behavior', 'policy']),
  latent_seed: z
    .int()
    .nullable()
    .optional()
    .describe('BCQ checkpoints: seed of the baked latent codes it was scored with, as `mtf export --latent-seed` bakes them (null: fresh codes per call; absent: not a BCQ checkpoint)'),
  stochastic: z.boolean(),
  action_samples: z.int().describe('actions drawn per state (stochastic policies)'),
  v_hat: z.number().describe('V̂(π) of Eq. (10), reward units'),
  ci95: Pair.describe('95% interval: V̂ ± 1.96·bootstrap se (session resamples, full FQE refits)'),
  se: z.number(),
  bootstrap: z.object({
    resamples: z.int(),
    iterations: z.int(),
    values: z.array(z.number()).describe('V̂ of each resample'),
    percentile95: Pair,
  }),
  lift: Difference.nullable().describe('vs the behavior policy (null for the behavior policy itself)'),
  vs_baseline: Difference.nullable().describe('vs --baseline (null without one)'),
  per_response: z.array(PerResponse),
  per_response_weighted_sum: z.number().nullable().describe('Σ w_i·v̂_i: should be close to v_hat'),
  importance: Importance.nullable(),
  importance_note: z.string().nullable().describe('why importance estimates are absent'),
  ood: Ood,
  actions: ActionSummary,
  fqe: z.object({ iterations: z.int(), seconds: z.number(), curves: Curves }),
  verdict: z.enum(['ship', 'hold', 'reject', 'reference']),
  reasons: z.array(z.string()),
  assessment: z
    .object({
      vs_behavior: Comparison.nullable().describe('paired 95% interval of the lift over the behavior policy: above 0, includes 0, below 0'),
      vs_baseline: Comparison.nullable().describe('the same against the served model (--baseline)'),
      out_of_support: z.boolean().describe('ood.share above shipMaxOod: V̂ is a conservative floor'),
      statement: z.string().describe('the verdict in words'),
    })
    .describe('what the estimate lets an analyst say, in words'),
  flags: z.array(Flag).describe('diagnostics that fired for this policy (empty: none)'),
}).meta({ id: 'OpePolicyResult' });
export type OpePolicyResult = z.infer<typeof OpePolicyResult>;

export const OpeReport = z.object({
  format: z.literal(OPE_REPORT_FORMAT),
  created_at: z.string(),
  data: z.object({
    dir: z.string().nullable(),
    split: z.string(),
    window: z.object({ end_date: z.string(), days: z.int(), start_ms: z.number(), end_ms: z.number() }).nullable(),
    first_request_ms: z.number().nullable(),
    last_request_ms: z.number().nullable(),
    sessions: z.int(),
    transitions: z.int(),
    terminal_transitions: z.int(),
    truncated_transitions: z.int(),
    initial_states: z.int().describe('initial states averaged in Eq. (10)'),
    state_dim: z.int(),
    action_dim: z.int(),
    action_names: z.array(z.string()),
    reward_weights: z.record(z.string(), z.number()),
    has_action_logp: z.boolean(),
  }),
  config: OpeConfigSchema,
  backend: z.string(),
  behavior: z
    .object({
      v_hat: z.number().describe('FQE of the logged actions'),
      ci95: Pair,
      empirical_all: Estimate.extend({ sessions: z.int() }).describe('mean discounted return of the test sessions (cut sessions stop at the cut)'),
      empirical_complete: Estimate.extend({ sessions: z.int() }).describe('the same over sessions the window did not cut'),
      v_hat_complete: z.number().describe('FQE of the logged actions on the initial states of the uncut sessions'),
      relative_gap: z.number().describe('(v_hat_complete − empirical_complete) / empirical_complete'),
      check: z.enum(['ok', 'warn']),
      note: z.string(),
    })
    .describe('sanity check: FQE of the behavior policy against the empirical discounted return'),
  logged_actions: ActionSummary,
  action_histogram_edges: z.array(z.array(z.number())).describe('per action dim: bin edges (logged units) shared by every histogram'),
  policies: z.array(OpePolicyResult).describe('in the order the policies were given'),
  baseline: OpePolicyResult.nullable().describe('the live model (--baseline), evaluated like the others'),
  ranking: z
    .object({
      ranks: z
        .array(z.object({ name: z.string(), rank: z.int().describe('1 = best; equal wins − losses share a rank'), wins: z.int(), losses: z.int(), ties: z.array(z.string()).describe('policies it cannot be told apart from') }))
        .describe('tie-aware order: wins − losses over the paired comparisons (policies, then the live model if not among them)'),
      pairs: z
        .array(
          z.object({
            a: z.string(),
            b: z.string(),
            diff: z.number().describe('V̂(a) − V̂(b)'),
            ci95: Pair.nullable().describe('paired bootstrap interval (null with fewer than 2 resamples)'),
            winner: z.enum(['a', 'b', 'tie']).describe('tie: the interval includes 0 — the log cannot order them'),
          }),
        )
        .describe('every pair of policies'),
    })
    .describe('the order the log can vouch for: pairs whose paired interval includes 0 are ties'),
  control_groups: z
    .array(
      z.object({
        policy_id: z.string(),
        version: z.string(),
        sessions: z.int(),
        cut_sessions: z.int(),
        mean: z.number().describe('mean discounted return of its uncut sessions (FQE\'s γ): an on-policy estimate of that version\'s value'),
        ci95: Pair,
      }),
    )
    .describe('online control groups in the evaluation split (policy_id control:<version>, no exploration); empty when the log has none'),
  flags: z.array(Flag).describe('report-level diagnostics (behavior_check)'),
  seconds: z.number(),
});
export type OpeReport = z.infer<typeof OpeReport>;

/** schemas/ope-report.schema.json */
export function renderOpeReportSchema(): string {
  const body = z.toJSONSchema(OpeReport, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return JSON.stringify({ $id: 'batchrl-mtf/ope-report.schema.json', title: 'ope-report.json of mtf evaluate', ...body }, null, 2) + '\n';
}
