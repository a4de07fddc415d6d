"""FAQ search that understands Japanese and English.

* ``analysis``: NFKC, SudachiPy (Japanese), Snowball (English) → search terms.
* ``index``: the ``FaqTerm`` table, rewritten whenever an FAQ is saved.
* ``query``: synonyms, matching and relevance ranking (``faq_search``).
"""

from enablement.search.analysis import analyse, normalise
from enablement.search.query import faq_search

__all__ = ["analyse", "faq_search", "normalise"]
