"""The cross-encoder second stage: a MiniLM that reads (role, headline) together.

`config` (CrossConfig), `pairs` (graded training pairs, negatives mined by the tuned
encoder), `train` (sentence-transformers CrossEncoder), `export` (ONNX, dynamic int8),
`scorer` (CrossScorer: torch or ONNX Runtime) and `rerank` (the top N of a first stage,
blended with its scores). It sits on `encoder/`, whose title tables and leakage rules it
reuses, and under `ranking/`, where it is a feature of RankNet and LambdaRank.
"""
