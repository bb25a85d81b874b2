"""The web group's logic: sources → `Fetch` records → snapshots → documents.

Sources: `replay` (recorded Wikipedia crawl), `crawler` (live HTTP, with `urls`, `links`,
`netguard`, `robots`, `crawl_state`, `warc_writer`), `warc_source`, `corpus_source`; `sources`
dispatches among them. Documents: `extract` (per content type), `documents` (filters, exact
dedup), `near_duplicates` (MinHash LSH); `drops` names every reason a page is dropped.
"""
