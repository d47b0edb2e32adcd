"""Text inputs for an ONNX graph: category names become codes inside the graph (ONNX-ML's LabelEncoder).

torch has no text tensors, so the exported network takes codes; ONNX has them, so the export puts, in
front of each such input, a lookup per column from its text to its code (0 for text the run never saw).
A user of the graph then feeds the table's own values, as text.
"""

from __future__ import annotations

from pathlib import Path

#: LabelEncoder with keys_strings / values_int64s and a default (ai.onnx.ml opset 2, which onnxruntime runs)
ML_OPSET = 2


def fold_lookups(path: Path, lookups: dict[str, list[dict[str, int]]]) -> None:
    """Rewrite the graph at `path` so that each input in `lookups` takes text, one column per lookup."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    for name, tables in lookups.items():
        inner = f"{name}__codes"
        for node in graph.node:
            node.input[:] = [inner if i == name else i for i in node.input]
        position = next(k for k, i in enumerate(graph.input) if i.name == name)
        nodes, codes = [], []
        for j, table in enumerate(tables):
            index = f"{name}__column{j}"
            graph.initializer.append(helper.make_tensor(index, TensorProto.INT64, [1], [j]))
            nodes.append(helper.make_node("Gather", [name, index], [f"{name}__text{j}"], axis=1))
            nodes.append(
                helper.make_node(
                    "LabelEncoder",
                    [f"{name}__text{j}"],
                    [f"{name}__code{j}"],
                    domain="ai.onnx.ml",
                    keys_strings=list(table),
                    values_int64s=list(table.values()),
                    default_int64=0,
                )
            )
            codes.append(f"{name}__code{j}")
        nodes.append(helper.make_node("Concat", codes, [inner], axis=1))
        for k, node in enumerate(nodes):
            graph.node.insert(k, node)
        text = helper.make_tensor_value_info(name, TensorProto.STRING, ["batch", len(tables)])
        graph.input.remove(graph.input[position])
        graph.input.insert(position, text)
    if not any(o.domain == "ai.onnx.ml" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
