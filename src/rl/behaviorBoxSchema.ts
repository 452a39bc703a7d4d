/**
 * The box's settings in a training config (config.ts): apart from behaviorBox.ts, which loads
 * TensorFlow.js, so that the config schemas — and with them `mtf --help` — load without it.
 */
import { z } from 'zod';

export const BehaviorBoxSchema = z.strictObject({
  halfWidth: z
    .union([z.number().positive(), z.array(z.number().positive()).min(1)])
    .describe('h of the bounded exploration box around the live policy, α units: one number for every coordinate, or one per coordinate (the uniform arm\'s halfWidth, schemas/exploration.md)'),
  actorWeight: z.number().min(0).default(1).describe('w_π: weight of Σ_j relu(|π_j(s) − μ_j(s)| − h_j)² in the actor loss (normalised action units)'),
  targetWeight: z
    .number()
    .min(0)
    .default(1)
    .describe('w_Q: TD targets lose w_Q·mean|Q′|·Σ_j relu(|ã_j − μ_j(s′)| − h_j)² for a target action ã outside the box (TD3/TD3+BC; IQL has no target action)'),
});
export type BehaviorBox = z.infer<typeof BehaviorBoxSchema>;
