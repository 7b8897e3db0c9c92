"""Readers of the job inputs: crawl files (WARC, HTML) and URL+caption lists. No Beam here."""
