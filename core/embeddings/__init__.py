"""Local sentence embeddings: the bundled MiniLM model files, our ONNX encoder, and chromadb's adapter."""
