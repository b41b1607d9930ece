"""An exact scan over int8 rows: every candidate scored, a quarter of float32's bytes.

A float32 scan of 1M x 384 reads 1.5 GB per query; the matrix-vector product is bound by
memory bandwidth (about 100 ms on this machine). Rows kept as int8 (one scale per row)
read 384 MB, and ONNX Runtime's MatMulInteger kernel (MLAS, u8 x s8 -> s32, the int8
matrix pre-packed as a constant) runs it near that floor. numpy has no int8 GEMV and
faiss's SQ8 flat scan decodes every row first (both measured slower; docs/scale.md).
The only approximation is rounding: a score moves by at most about 1% of the row's
largest component.
"""

from __future__ import annotations

import numpy as np

# One MatMulInteger constant holds at most this many int8 values: protobuf caps a model
# at 2 GB, so large pools are split over several constants in one graph.
_CHUNK_VALUES = 1 << 30
# Rows use 7 bits (+-63): on AVX2, MLAS multiplies u8 x s8 pairs with vpmaddubsw, whose
# int16 sum saturates for 255 * 127 * 2 (the "reduce_range" caveat of ONNX Runtime).
ROW_LEVELS = 63.0


def quantise_rows(matrix: np.ndarray, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """(int8 rows, float32 scale per row): row ~= int8 row * scale."""
    n, _ = matrix.shape
    codes = np.empty(matrix.shape, dtype=np.int8)
    scales = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        block = np.asarray(matrix[start : start + chunk], dtype=np.float32)
        top = np.abs(block).max(axis=1)
        top[top == 0] = 1.0
        scale = top / ROW_LEVELS
        codes[start : start + len(block)] = np.rint(block / scale[:, None]).astype(np.int8)
        scales[start : start + len(block)] = scale
    return codes, scales


class Int8Scan:
    """Exact top-k by int8 dot products; `search` mirrors the ANN backends' interface."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray, threads: int = 0) -> None:
        self.codes, self.scales = codes, scales
        self.n, self.dim = codes.shape
        self.threads = threads
        self._session = None

    @classmethod
    def build(cls, matrix: np.ndarray, threads: int = 0) -> Int8Scan:
        return cls(*quantise_rows(matrix), threads=threads)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes)

    def _graph(self):
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        rows = max(1, _CHUNK_VALUES // max(self.dim, 1))
        nodes, inits, outs = [], [numpy_helper.from_array(np.array(128, np.uint8), "zero")], []
        for i, start in enumerate(range(0, self.n, rows)):
            block = np.ascontiguousarray(self.codes[start : start + rows].T)
            inits.append(numpy_helper.from_array(block, f"rows{i}"))
            nodes.append(helper.make_node("MatMulInteger", ["q", f"rows{i}", "zero"], [f"s{i}"]))
            outs.append(f"s{i}")
        nodes.append(helper.make_node("Concat", outs, ["scores"], axis=1))
        graph = helper.make_graph(
            nodes,
            "int8_scan",
            [helper.make_tensor_value_info("q", TensorProto.UINT8, [None, self.dim])],
            [helper.make_tensor_value_info("scores", TensorProto.INT32, [None, self.n])],
            initializer=inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        payload = model.SerializeToString()
        del model, graph, inits
        return ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """(m, n) float32 approximate dot products of each query with every row."""
        if self._session is None:
            self._session = self._graph()
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        top = np.abs(queries).max(axis=1)
        top[top == 0] = 1.0
        q_scale = (top / 127.0).astype(np.float32)
        q = (np.rint(queries / q_scale[:, None]) + 128).astype(np.uint8)
        raw = self._session.run(None, {"q": q})[0]
        return raw.astype(np.float32) * q_scale[:, None] * self.scales[None, :]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores), each (m, k), best first."""
        scores = self.scores(queries)
        k = min(k, self.n)
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(top, order, axis=1)
