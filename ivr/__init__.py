"""ivr. One OpenBLAS thread, set before numpy loads: its idle worker spun after each call, 21 % of a core at 20 calls."""
__import__("os").environ.setdefault("OPENBLAS_NUM_THREADS", "1")
