"""RAG over the person's own documents: chunking, a persistent chromadb index, answers that cite chunks."""
