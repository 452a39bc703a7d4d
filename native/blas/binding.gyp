{
  "targets": [
    {
      "target_name": "mtf_blas",
      "sources": ["mtf_blas.c"],
      "cflags": ["-O3", "-march=native", "-fno-math-errno"],
      "libraries": ["-ldl"]
    }
  ]
}
