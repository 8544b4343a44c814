"""The keyword index in one package: the analyzer, the writer that stores postings in ingestion's
transactions, and the in-memory BM25 reader that follows the catalog's change log. The stored
formats are the catalog's (``ingestion.catalog.keyword``); ids and keys are ``ingestion.ids``."""

from .analyzer import STOP_WORDS, Analyzer, analyze, default_analyzer
from .index import BM25Index, CatalogKeywordIndex, KeywordHit, KeywordResult
from .writer import KeywordWriter, SqlKeywordWriter

__all__ = [
    "STOP_WORDS",
    "Analyzer",
    "BM25Index",
    "CatalogKeywordIndex",
    "KeywordHit",
    "KeywordResult",
    "KeywordWriter",
    "SqlKeywordWriter",
    "analyze",
    "default_analyzer",
]
