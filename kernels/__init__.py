"""Numeric code: GGUF reading, quantizers, ONNX graph building. Imports only numpy/onnx/onnxruntime."""
