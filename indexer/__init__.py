"""Turning text into searchable structures; knows nothing of articles' Markdown or of the store.

Write side: chunking (records -> chunks), embedders (text -> vectors), build (one atomic generation per run).
Read side: load (the live generation, checked) -> hybrid.HybridIndex (dense and keyword candidates, the id map).
Shared: analysis (what a term and a word are), vector_index (FAISS), keyword_index (BM25), spelling,
generation (the on-disk layout), errors.
"""
