/** The policy specs `mtf simulate` / `mtf truth` accept, for --help (no imports: the CLI loads it at start). */
export const POLICY_SPEC_HELP =
  'model.onnx | const:a1,…,a8 | behavior[:<production spec>] | production (the tuned constant) | hand-tuned | best | segments | es | oracle | myopic | lookahead';
