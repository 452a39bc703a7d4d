/**
 * onnxruntime-node sessions as the export checks and the scorer open them: one intra-op thread (the
 * ranking stack runs one request per core), sequential execution, all graph optimisations, warnings
 * off (an exported graph has nothing to warn about; errors still throw).
 */
import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** intra-op threads (default 1) */
  threads?: number;
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

/** Runs `session` and returns each named float32 output's data (checked to be float32). */
export async function runFloat(session: ort.InferenceSession, feeds: Record<string, { data: Float32Array; dims: number[] }>, outputs: string[]): Promise<Float32Array[]> {
  const input: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) input[k] = new ort.Tensor('float32', v.data, v.dims);
  const res = await session.run(input, outputs);
  return outputs.map((name) => {
    const t = res[name];
    if (!t || !(t.data instanceof Float32Array)) throw new Error(`output ${name} is missing or not float32`);
    return t.data;
  });
}

export { ort };
