{
  "targets": [
    {
      "target_name": "mtf_blas",
      "sources": ["mtf_blas.c", "mtf_fused.c", "mtf_mlp.c", "mtf_rng.c"],
      "cflags": ["-O3", "-march=native", "-fno-math-errno"],
      "libraries": ["-ldl"]
    }
  ]
}
